package io.mithril.agent.index;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the index keeps the bulk of its entries, off the Java heap: each entry's name, file
 * addresses, sizes and front-coded paths as one immutable record in a chunk. The store's chunks are
 * mapped from unlinked files on the store's own disk ({@code store.MappedChunks}), so the kernel can
 * page them out under the agent's memory limit where heap would run out; a chunk the disk cannot
 * give comes from the heap instead (logged once).
 *
 * <p>Records are appended and never written over: an entry read outside the index's lock (a
 * publish walking a pinned group) keeps reading the bytes it was given even if the index has
 * moved that entry meanwhile. Space is reclaimed a chunk at a time: once a full chunk holds less
 * than a quarter of live records, the index copies those to the current chunk
 * ({@link Index#put}) and drops the chunk; its memory goes when the last entry read from it does.
 * Not thread-safe: used under the index's lock.
 */
public final class Arena {

    /** Gives chunks of memory. */
    public interface Source {
        ByteBuffer allocate(int bytes) throws IOException;
    }

    private static final Logger log = LoggerFactory.getLogger(Arena.class);
    private static final ExecutorService WRITE_BACK = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "mithril-index-writeback");
        t.setDaemon(true);
        return t;
    });
    /** 64 MiB: about 130,000 fixture-shaped entries a chunk. */
    public static final int DEFAULT_CHUNK = 64 << 20;

    private final Source source;
    private final int chunkBytes;
    private final List<Chunk> chunks = new ArrayList<>();
    private Chunk current;
    private boolean warned;
    private int last;
    private long offHeap;
    private long heapChunks;

    public Arena(Source source, int chunkBytes) {
        if (chunkBytes < 64) {
            throw new IllegalArgumentException("chunk too small: " + chunkBytes);
        }
        this.source = source;
        this.chunkBytes = chunkBytes;
    }

    /** An arena on the heap (tests, and stores with nowhere to map). */
    public static Arena heap(int chunkBytes) {
        return new Arena(ByteBuffer::allocate, chunkBytes);
    }

    /** A chunk: a buffer, how much of it is written, and how much of that is still live. */
    static final class Chunk {
        final ByteBuffer buf;
        /** The arena it belongs to; null for a record of its own. */
        final Arena arena;

        int used;
        int live;

        Chunk(ByteBuffer buf, Arena arena) {
            this.buf = buf;
            this.arena = arena;
        }

        /** A record outside any arena: an entry not (yet) in an index. */
        static Chunk of(byte[] record) {
            Chunk c = new Chunk(ByteBuffer.wrap(record), null);
            c.used = record.length;
            c.live = record.length;
            return c;
        }
    }

    /** Copies {@code len} bytes at {@code off} of {@code from} into the arena; returns where, as {@code chunk}. */
    Chunk append(ByteBuffer from, int off, int len) {
        if (len <= 0) {
            throw new IllegalArgumentException("empty record");
        }
        if (current == null || current.buf.capacity() - current.used < len) {
            if (current != null) {
                clean(current.buf);
            }
            current = newChunk(Math.max(len, chunkBytes));
            chunks.add(current);
        }
        Chunk c = current;
        c.buf.put(c.used, from, off, len);
        last = c.used;
        c.used += len;
        c.live += len;
        return c;
    }

    /** The offset of the record {@link #append} wrote last. */
    int lastOffset() {
        return last;
    }

    private Chunk newChunk(int bytes) {
        return new Chunk(allocate(bytes), this);
    }

    /** A buffer of {@code bytes} from the source, or from the heap when the source cannot give one. */
    ByteBuffer allocate(int bytes) {
        ByteBuffer b;
        try {
            b = source.allocate(bytes);
        } catch (IOException | RuntimeException e) {
            if (!warned) {
                warned = true;
                log.warn(
                        "index memory of {} KiB not available off the heap ({}); holding it on the heap",
                        bytes >> 10,
                        e.toString());
            }
            b = ByteBuffer.allocate(bytes);
        }
        if (b.isDirect()) {
            offHeap += b.capacity();
        } else {
            heapChunks += b.capacity();
        }
        return b;
    }

    /**
     * Has a mapped buffer that is done being filled written back to its file, on a background
     * thread, so that its pages are clean: under a memory limit the kernel can then drop them at
     * once, where dirty ones make every allocation wait for their writeback (a replay into a full
     * 1 GiB cgroup crawled so). Readers are not disturbed: a write-back only copies pages out.
     */
    static void clean(ByteBuffer b) {
        if (b instanceof MappedByteBuffer m) {
            WRITE_BACK.execute(() -> {
                try {
                    m.force();
                } catch (UncheckedIOException | IllegalStateException e) {
                    log.debug("could not write an index chunk back: {}", e.toString());
                }
            });
        }
    }

    /** Accounts for a buffer from {@link #allocate} no longer held. */
    void free(ByteBuffer b) {
        if (b.isDirect()) {
            offHeap -= b.capacity();
        } else {
            heapChunks -= b.capacity();
        }
    }

    /** Drops a record's bytes from its chunk's live count. */
    void release(Chunk c, int len) {
        c.live -= len;
    }

    /** A full chunk worth emptying: less than a quarter live. Null when none. */
    Chunk sparse() {
        for (Chunk c : chunks) {
            if (c != current && c.live < c.used / 4) {
                return c;
            }
        }
        return null;
    }

    /** Forgets a chunk no entry of the index refers to any more. */
    void drop(Chunk c) {
        chunks.remove(c);
        free(c.buf);
    }

    /** Bytes of chunks held off the heap. */
    public long offHeapBytes() {
        return offHeap;
    }

    /** Bytes of chunks on the heap (a heap arena's, or those the disk could not give). */
    public long heapBytes() {
        return heapChunks;
    }

    /** Bytes of live records. */
    public long liveBytes() {
        long n = 0;
        for (Chunk c : chunks) {
            n += c.live;
        }
        return n;
    }

    int chunkCount() {
        return chunks.size();
    }

    /** Forgets every chunk (the blob table frees its own buffers). */
    void clear() {
        for (Chunk c : chunks) {
            free(c.buf);
        }
        chunks.clear();
        current = null;
    }
}
