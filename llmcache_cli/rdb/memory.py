"""What a key costs in the server's memory, reckoned the way ``MEMORY USAGE`` counts it.

``MEMORY USAGE`` adds up the allocations behind a key: the value object (16 bytes), its payload
(an sds string, a listpack, an intset, hash-table entries ...), the key's own sds string and
its entry in the keyspace's hash table. Every allocation is rounded up to the allocator's size
class (jemalloc's for a standard build; glibc's for a server built with ``MALLOC=libc``), so the
estimate needs the same rounding and the struct sizes of the server version that wrote the
snapshot (``Profile``). Strings come out equal to ``MEMORY USAGE``; collections sum every
element where the server averages a sample of 5, so they agree within a few percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

JEMALLOC = "jemalloc"
LIBC = "libc"
ALLOCATORS = (JEMALLOC, LIBC)

ROBJ = 16  # sizeof(robj)
DICT_ENTRY = 24  # sizeof(dictEntry): key, value, next
EMBSTR_LIMIT = 44  # OBJ_ENCODING_EMBSTR_SIZE_LIMIT
QUICKLIST_NODE = 32
ZSKIPLIST = 32
ZSET = 16
# The average allocation of a skip-list node (24 bytes + 16 per level, level ~ geometric(1/4))
# after jemalloc's rounding; the server itself averages 5 sampled nodes.
_ZSL_LEVELS = tuple((0.75 * 0.25 ** (level - 1), 24 + 16 * level) for level in range(1, 12))


def jemalloc_size(n: int) -> int:
    """jemalloc's size class for an n-byte request (16-byte quantum, 4 classes per doubling)."""
    if n <= 8:
        return 8
    if n <= 128:
        return (n + 15) & ~15
    spacing = 1 << ((n - 1).bit_length() - 3)
    return (n + spacing - 1) & ~(spacing - 1)


def libc_size(n: int) -> int:
    """glibc's ``malloc_usable_size`` for an n-byte request (16-byte chunks, 8-byte header)."""
    return max(24, ((n + 8 + 15) & ~15) - 8)


_TABLE_MAX = 1 << 16


@dataclass(frozen=True)
class Profile:
    """The struct sizes and rules of one server line (``for_server`` picks it)."""

    name: str
    dict_struct: int  # sizeof(dict)
    quicklist: int  # sizeof(quicklist)
    stream: int  # sizeof(stream)
    stream_consumer: int  # sizeof(streamConsumer)
    key_entry: int  # per key in the keyspace table (dictEntry, and metadata where there is some)
    sds5_keys: bool  # keys shorter than 32 bytes get a 1-byte sds header
    exact_blobs: bool = False  # 6.2 counts listpacks/ziplists/intsets and embstr unrounded
    embedded_keys: bool = False  # Valkey 8: the key (and expiry) live inside the value object
    listpack_lists: bool = False  # 7.2+: a list of one small node is a plain listpack
    stream_prealloc: int = 4096  # a stream's open listpack is allocated at stream-node-max-bytes
    stream_cg: int = 40  # sizeof(streamCG)
    rax_alloc_size: bool = False  # Valkey 8: radix trees and listpacks counted as allocated
    cluster_entry: int = 16  # 7.0-7.2 cluster mode: each key's entry links it into its slot's list


REDIS_62 = Profile(
    "redis-6.2",
    dict_struct=96,
    quicklist=40,
    stream=40,
    stream_consumer=24,
    key_entry=DICT_ENTRY,
    sds5_keys=True,
    exact_blobs=True,
    stream_cg=32,
    cluster_entry=0,
)
REDIS_70 = Profile(
    "redis-7.0",
    dict_struct=56,
    quicklist=48,
    stream=72,
    stream_consumer=24,
    key_entry=DICT_ENTRY,
    sds5_keys=True,
)
VALKEY_8 = Profile(
    "valkey-8",
    dict_struct=56,
    quicklist=48,
    stream=80,
    stream_consumer=32,
    key_entry=0,
    sds5_keys=True,
    embedded_keys=True,
    listpack_lists=True,
    cluster_entry=0,
    rax_alloc_size=True,
)
LISTPACK_LIST_MAX = 8192  # list-max-listpack-size -2


def for_server(version: str | None, valkey: bool = False) -> Profile:
    """The profile for a ``redis-ver`` / ``valkey-ver`` aux field ("6.2.14", "7.0.15", "8.1.8");
    7.0's when the snapshot does not say."""
    if valkey and version and version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 8:
        return VALKEY_8
    if version:
        try:
            major, minor = (int(x) for x in version.split(".")[:2])
        except ValueError:
            return REDIS_70
        if (major, minor) < (7, 0):
            return REDIS_62
    return REDIS_70


class Estimator:
    """Memory of each kind of value for one profile and allocator; small sizes are looked up."""

    def __init__(self, profile: Profile = REDIS_70, allocator: str = JEMALLOC, cluster: bool = False) -> None:
        if allocator not in ALLOCATORS:
            raise ValueError(f"unknown allocator {allocator!r}")
        self.profile = profile
        self.key_entry = profile.key_entry + (profile.cluster_entry if cluster else 0)
        self.allocator = allocator
        self.size = size = jemalloc_size if allocator == JEMALLOC else libc_size
        self._table = [size(n) for n in range(_TABLE_MAX)]
        # Strings by length (not integers): the embstr / raw rule, looked up in the hot loop.
        self.string_table = [self._string(n) for n in range(4096)]
        self.key_table = [self._key(n) for n in range(1024)]
        self.zsl_node = sum(p * size(n) for p, n in _ZSL_LEVELS)

    def alloc(self, n: int) -> int:
        return self._table[n] if n < _TABLE_MAX else self.size(n)

    def sds(self, length: int, sds5: bool = False) -> int:
        """An sds string allocated exactly (header by length, then the bytes and a NUL)."""
        if length < 32 and sds5:
            header = 1
        elif length < 256:
            header = 3
        elif length < 65536:
            header = 5
        else:
            header = 9
        return self.alloc(header + length + 1)

    def element(self, length: int) -> int:
        """An element of a hash-table collection: sds members are made with the 1-byte header
        when short, like keys."""
        return self.sds(length, sds5=True)

    def _string(self, length: int) -> int:
        if length <= EMBSTR_LIMIT:
            if self.profile.exact_blobs:
                return ROBJ + length + 2
            return self.alloc(ROBJ + 3 + length + 1)  # robj and sdshdr8 in one allocation
        return ROBJ + self.sds(length)

    def valkey_string(self, key_length: int, length: int, integer: bool, expires: bool) -> int:
        """Valkey 8: one allocation holds the object, its expiry, its key and, when all fit in
        a 64-byte cache line, the value itself."""
        head = ROBJ + (8 if expires else 0) + 1 + self._sds_size(key_length, True)
        if integer:
            return self.alloc(head)
        if head + 3 + length + 1 <= 64:
            return self.alloc(head + 3 + length + 1)
        return self.alloc(head) + self.sds(length)

    def valkey_object(self, key_length: int, value: int, expires: bool) -> int:
        """Valkey 8: ``value`` (an estimate that counts a 16-byte object) with the key embedded."""
        return value - ROBJ + self.alloc(ROBJ + (8 if expires else 0) + 1 + self._sds_size(key_length, True))

    @staticmethod
    def _sds_size(length: int, sds5: bool) -> int:
        if length < 32 and sds5:
            return 1 + length + 1
        return (3 if length < 256 else 5 if length < 65536 else 9) + length + 1

    def string(self, length: int, integer: bool = False) -> int:
        """A string value: 16 for an integer, embstr up to 44 bytes, else raw."""
        if integer:
            return ROBJ
        return self.string_table[length] if length < 4096 else self._string(length)

    def _key(self, length: int) -> int:
        return self.sds(length, self.profile.sds5_keys) + self.key_entry

    def key(self, length: int) -> int:
        """The key's sds and its entry in the keyspace table."""
        return self.key_table[length] if length < 1024 else self._key(length)

    def blob(self, nbytes: int) -> int:
        """A value kept as one allocation: listpack, ziplist, intset."""
        return ROBJ + (nbytes if self.profile.exact_blobs else self.alloc(nbytes))

    def quicklist(self, nodes: list[int]) -> int:
        if self.profile.listpack_lists and len(nodes) == 1 and nodes[0] <= LISTPACK_LIST_MAX:
            return self.blob(nodes[0])
        node = (lambda n: n) if self.profile.exact_blobs else self.alloc
        return ROBJ + self.profile.quicklist + sum(QUICKLIST_NODE + node(n) for n in nodes)

    def table(self, entries: int) -> int:
        """A hash table's struct and bucket array for ``entries`` entries."""
        slots = 4
        while slots < entries:
            slots <<= 1
        return self.profile.dict_struct + 8 * slots

    def buckets(self, entries: int) -> int:
        """Valkey 8's hash table: 64-byte buckets of 7 entries, a power of two of them."""
        buckets = 1
        while buckets * 7 < entries:
            buckets <<= 1
        return 96 + 64 * buckets

    def hash_table(self, entries: int, payload: int) -> int:
        """A set or hash in a hash table; ``payload``: the elements' sds allocations."""
        if self.profile.embedded_keys:
            return ROBJ + self.buckets(entries) + payload
        return ROBJ + self.table(entries) + entries * DICT_ENTRY + payload

    def skiplist(self, entries: int, payload: int) -> int:
        header = self.alloc(24 + 32 * 16)
        if self.profile.embedded_keys:
            table, entry = self.buckets(entries), 0
        else:
            table, entry = self.table(entries), DICT_ENTRY
        nodes = entries * (entry + self.zsl_node)
        return round(ROBJ + ZSET + ZSKIPLIST + table + header + nodes + payload)

    def stream(
        self, masters: Sequence[bytes], listpacks: Sequence[int], groups: Sequence[StreamGroup] = ()
    ) -> int:
        """A stream as the server reckons it: its struct, its radix tree of ``masters`` (each
        listpack's master ID), the listpacks (``listpacks``: their lengths; the open one is
        allocated at stream-node-max-bytes), the consumer groups' pending entries and consumers.

        Redis counts a radix tree by a rule of thumb (16 bytes an ID, 244 a node, the nodes
        counted from the IDs themselves) and a listpack by its bytes; Valkey 8 counts each tree
        at the size of its allocations (``rax_alloc``) and each listpack at its allocation."""
        profile, exact = self.profile, self.profile.rax_alloc_size
        tree = self.rax_alloc if exact else rax_size
        size = ROBJ + profile.stream + tree(masters)
        if listpacks:
            *closed, last = listpacks
            if exact:
                size += sum(self.alloc(n) for n in closed) + self.alloc(max(profile.stream_prealloc, last))
            else:
                size += sum(closed) + max(profile.stream_prealloc, last)
        for pending, consumers in groups:
            size += profile.stream_cg + tree(pending) + STREAM_NACK * len(pending)
            for name_length, owned in consumers:
                size += profile.stream_consumer + name_length + tree(owned)
        return size

    def rax_alloc(self, keys: Sequence[bytes]) -> int:
        """Valkey 8's ``raxAllocSize``: the tree's struct and each node's allocation."""
        return self.alloc(RAX_STRUCT) + sum(self.alloc(n) for n in rax_node_sizes(sorted(keys)))


# A consumer group: its pending IDs, and (name length, IDs owned) of each consumer.
StreamGroup = tuple[Sequence[bytes], Sequence[tuple[int, Sequence[bytes]]]]
STREAM_NACK = 24  # sizeof(streamNACK)


def rax_size(ids: Sequence[bytes]) -> int:
    """``streamRadixTreeMemoryUsage`` of a tree holding these 16-byte IDs."""
    return 16 * len(ids) + 244 * rax_nodes(sorted(ids))


def rax_nodes(keys: Sequence[bytes], depth: int = 0) -> int:
    """The nodes of a radix tree (``rax``) holding these sorted, distinct, equally long keys: a
    compressed node for each run shared by all, a branching node where they part, a leaf each."""
    if not keys:
        return 1  # the empty head
    first, last = keys[0], keys[-1]
    end = len(first)
    shared = depth
    while shared < end and first[shared] == last[shared]:
        shared += 1
    if shared == end:
        return 1 if depth == end else 2  # (a compressed run, then) the leaf
    nodes = 1 if shared == depth else 2  # (a compressed run, then) the branching node
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i][shared] != keys[start][shared]:
            nodes += rax_nodes(keys[start:i], shared + 1)
            start = i
    return nodes


RAX_STRUCT = 32  # Valkey's rax: head, numele, numnodes, alloc_size


def _rax_node(chars: int, compressed: bool, key: bool) -> int:
    """The bytes of one rax node: a 4-byte header, its characters padded to a pointer, one
    child pointer (compressed) or one per character, and the value pointer of a key."""
    padding = (8 - (chars + 4) % 8) & 7
    children = 1 if compressed else chars
    return 4 + chars + padding + 8 * children + (8 if key else 0)


def rax_node_sizes(keys: Sequence[bytes], depth: int = 0) -> list[int]:
    """The node sizes of a rax holding these sorted, distinct, equally long keys (the same
    tree ``rax_nodes`` counts)."""
    if not keys:
        return [_rax_node(0, False, False)]  # the empty head
    first, last = keys[0], keys[-1]
    end = len(first)
    shared = depth
    while shared < end and first[shared] == last[shared]:
        shared += 1
    if shared == end:  # one key: (a compressed run, then) its leaf
        leaf = [_rax_node(0, False, True)]
        return leaf if depth == end else [_rax_node(end - depth, True, False), *leaf]
    sizes = [] if shared == depth else [_rax_node(shared - depth, True, False)]
    start, branches = 0, 0
    below: list[int] = []
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i][shared] != keys[start][shared]:
            below += rax_node_sizes(keys[start:i], shared + 1)
            branches += 1
            start = i
    return [*sizes, _rax_node(branches, False, False), *below]
