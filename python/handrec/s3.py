"""Takes in S3-compatible storage (AWS S3, MinIO, Ceph, s3rver), read where they lie: h5py opens a
file object whose reads are ranged GETs through boto3, with a small cache of blocks, so opening a
take reads its header and index, and a frame reads its bytes, never the whole object.

    t = handrec.open("s3://bucket/rig1/right/20261206-043804.h5")
    ds = handrec.Dataset("s3://bucket/rig1")      # the layout handrec-offload uploads:
                                                  # <prefix>/<hand>/<name>.h5, <prefix>/episodes/<id>.json

Endpoint and credentials come from where boto3 looks (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_PROFILE, ~/.aws/credentials and config, an instance role), and the endpoint from
endpoint_url= or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (read here too: Debian 12's boto3 predates
them); the region from AWS_REGION / AWS_DEFAULT_REGION / the config file, else us-east-1.

boto3 is an optional dependency: without it, s3:// raises ImportError with the install line. A
store is safe to use after fork (a DataLoader worker): each process makes its own client.
"""
import io
import os
import threading
from collections import OrderedDict

INSTALL_BOTO3 = ("reading s3:// needs boto3, which is not installed: apt install python3-boto3; "
                 "in a venv or conda environment: pip install 'handrec[s3]'")

BLOCK_SIZE = 1 << 20      # bytes a ranged GET fetches at least (aligned blocks)
CACHE_BLOCKS = 16         # blocks kept per open take (16 MiB)
PROBE_BLOCK_SIZE = 64 << 10  # for reading a take's attributes only (a listing without manifests)


def split_url(url):
    """("bucket", "key or prefix") of s3://bucket/key."""
    if not url.startswith("s3://"):
        raise ValueError(f"{url}: not an s3:// URL")
    rest = url[5:]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"{url}: no bucket")
    return bucket, key


def make_client(endpoint_url=None, **client_options):
    try:
        import boto3
    except ImportError:
        raise ImportError(INSTALL_BOTO3) from None
    endpoint_url = (endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
                    or None)
    session = boto3.session.Session()
    region = client_options.pop("region_name", None) or session.region_name or "us-east-1"
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, **client_options)


class Stats:
    """What a store fetched: GET requests and bytes, by key (the tests' and the bench's figures)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.gets = 0
        self.bytes = 0
        self.lists = 0
        self.by_key = {}

    def add(self, key, n):
        with self.lock:
            self.gets += 1
            self.bytes += n
            self.by_key[key] = self.by_key.get(key, 0) + n

    def __repr__(self):
        return f"<handrec.s3.Stats {self.lists} listings, {self.gets} GETs, {self.bytes} bytes>"


class Store:
    """A bucket prefix, s3://bucket/prefix: list it, read small objects whole, open takes as
    ranged-read files. The boto3 client is made on first use in each process."""

    def __init__(self, url, endpoint_url=None, block_size=BLOCK_SIZE, cache_blocks=CACHE_BLOCKS, **client_options):
        self.bucket, prefix = split_url(url)
        self.prefix = prefix.strip("/")
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.endpoint_url = endpoint_url
        self.client_options = client_options
        self.block_size, self.cache_blocks = block_size, cache_blocks
        self.stats = Stats()
        self._client = None
        self._pid = None  # boto3 is looked for at the first request

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_client"], d["_pid"], d["stats"] = None, None, Stats()
        return d

    @property
    def client(self):
        if self._client is None or self._pid != os.getpid():
            self._client = make_client(self.endpoint_url, **dict(self.client_options))
            self._pid = os.getpid()
        return self._client

    def key(self, rel):
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def location(self, rel):
        return f"s3://{self.bucket}/{self.key(rel)}"

    def list(self):
        """{relative path: size} of every object under the prefix (one paginated listing; no
        object is read)."""
        out = {}
        start = self.key("")
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
            with self.stats.lock:
                self.stats.lists += 1
            for o in page.get("Contents", ()):
                out[o["Key"][len(start):]] = int(o["Size"])
        return out

    def size(self, rel):
        return int(self.client.head_object(Bucket=self.bucket, Key=self.key(rel))["ContentLength"])

    def get(self, key, start=None, end=None):
        """Bytes [start, end) of object @key (the whole object without a range)."""
        args = dict(Bucket=self.bucket, Key=key)
        if start is not None:
            args["Range"] = f"bytes={start}-{end - 1}"
        last = None
        for _ in range(3):
            try:
                data = self.client.get_object(**args)["Body"].read()
                break
            except Exception as e:  # a connection cut mid-body: botocore retries requests, not bodies
                last = e
                if getattr(e, "response", None):  # an answer from the server (403, 404): no retry
                    raise
        else:
            raise last
        self.stats.add(key, len(data))
        return data

    def read_bytes(self, rel):
        return self.get(self.key(rel))

    def open_file(self, rel, size=None, block_size=None):
        if size is None:
            size = self.size(rel)
        return RangeFile(self, self.key(rel), size, block_size or self.block_size, self.cache_blocks)

    def open_take(self, rel, size=None, rectify=False, probe=False):
        from handrec import Take
        f = self.open_file(rel, size, PROBE_BLOCK_SIZE if probe else None)
        try:
            return Take(self.location(rel), rectify=rectify, fileobj=f)
        except Exception:
            f.close()
            raise

    def __repr__(self):
        return f"<handrec.s3.Store {self.url}>"


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over one object, for h5py.File(fileobj): reads are served from
    aligned blocks of @block_size fetched by ranged GETs (the missing blocks of one read in one
    request, more ahead while reads go on forward), the last @cache_blocks kept."""

    def __init__(self, store, key, size, block_size=BLOCK_SIZE, cache_blocks=CACHE_BLOCKS):
        super().__init__()
        self.store, self.key, self.length = store, key, int(size)
        self.block_size, self.cache_blocks = int(block_size), int(cache_blocks)
        self.pos = 0
        self.blocks = OrderedDict()
        self.lock = threading.Lock()
        self._next = None  # the block a forward read would want next
        self._ahead = 1

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=io.SEEK_SET):
        if whence == io.SEEK_SET:
            self.pos = offset
        elif whence == io.SEEK_CUR:
            self.pos += offset
        elif whence == io.SEEK_END:
            self.pos = self.length + offset
        else:
            raise ValueError(f"whence {whence}")
        if self.pos < 0:
            raise ValueError("negative position")
        return self.pos

    def _fetch(self, first, last):
        """Blocks first..last (inclusive) into the cache, the missing ones in one GET per run."""
        b = first
        while b <= last:
            if b in self.blocks:
                self.blocks.move_to_end(b)
                b += 1
                continue
            e = b
            while e + 1 <= last and e + 1 not in self.blocks:
                e += 1
            # forward reads: fetch further ahead, doubling up to 8 blocks
            if self._next is not None and b == self._next:
                self._ahead = min(self._ahead * 2, 8)
            else:
                self._ahead = 1
            max_block = (self.length - 1) // self.block_size
            e2 = min(max(e, b + self._ahead - 1), max_block)
            while e2 > e and e2 in self.blocks:
                e2 -= 1
            start, end = b * self.block_size, min((e2 + 1) * self.block_size, self.length)
            data = self.store.get(self.key, start, end)
            if len(data) != end - start:
                raise OSError(f"s3://{self.store.bucket}/{self.key}: asked for bytes {start}-{end - 1}, got "
                              f"{len(data)} (the object changed?)")
            data = memoryview(data)
            for k in range(b, e2 + 1):
                self.blocks[k] = data[(k - b) * self.block_size:(k - b + 1) * self.block_size]
                self.blocks.move_to_end(k)
            self._next = e2 + 1
            b = e + 1
        while len(self.blocks) > max(self.cache_blocks, last - first + 1):
            self.blocks.popitem(last=False)

    def readinto(self, buf):
        mv = memoryview(buf).cast("B")
        with self.lock:
            n = max(0, min(len(mv), self.length - self.pos))
            if n == 0:
                return 0
            first, last = self.pos // self.block_size, (self.pos + n - 1) // self.block_size
            self._fetch(first, last)
            done = 0
            while done < n:
                b, off = divmod(self.pos + done, self.block_size)
                block = self.blocks[b]
                k = min(n - done, len(block) - off)
                mv[done:done + k] = block[off:off + k]
                done += k
            self.pos += n
            return n

    def read(self, size=-1):
        if size is None or size < 0:
            size = self.length - self.pos
        buf = bytearray(max(0, min(size, self.length - self.pos)))
        n = self.readinto(buf)
        return bytes(buf[:n])

    def close(self):
        self.blocks.clear()
        super().close()


def open_take(url, rectify=False, endpoint_url=None, **options):
    """A take at s3://bucket/key (handrec.open does this for s3:// URLs)."""
    bucket, key = split_url(url)
    head, _, name = key.rpartition("/")
    store = Store(f"s3://{bucket}/{head}" if head else f"s3://{bucket}", endpoint_url=endpoint_url, **options)
    return store.open_take(name, rectify=rectify)
