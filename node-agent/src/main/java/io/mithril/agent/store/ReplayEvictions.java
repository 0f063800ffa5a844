package io.mithril.agent.store;

import io.mithril.agent.cas.Address;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.index.EvictionCause;
import io.mithril.agent.index.Index;
import io.mithril.agent.index.JournalRecord;
import io.mithril.agent.key.GroupId;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The entries a replay evicted to stay within the index's heap, kept until the replay ends as
 * bytes (key, freed blobs' addresses), not as objects: a replay that must evict half a journal
 * would otherwise hold on to everything it evicted and run out of memory anyway.
 */
final class ReplayEvictions {

    /** Takes a blob to delete. */
    @FunctionalInterface
    interface BlobSink {
        void accept(Address a);
    }

    /** Journals a chunk of removals durably. */
    @FunctionalInterface
    interface Chunk {
        void append(List<JournalRecord.Remove> removes) throws IOException;
    }

    private static final int CHUNK = 10_000;
    private final List<GroupId> groups = new ArrayList<>();
    private final Map<GroupId, Integer> groupIds = new HashMap<>();
    private ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private DataOutputStream out = new DataOutputStream(bytes);
    private int count;

    boolean isEmpty() {
        return count == 0;
    }

    void add(Index.Removal r) {
        EntryKey k = r.entry().key();
        Integer g = groupIds.computeIfAbsent(k.group(), x -> {
            groups.add(x);
            return groups.size() - 1;
        });
        try {
            out.writeInt(g);
            out.writeUTF(k.name());
            out.writeInt(r.freedBlobs().size());
            for (Address a : r.freedBlobs()) {
                out.writeLong(a.w0());
                out.writeLong(a.w1());
                out.writeLong(a.w2());
                out.writeLong(a.w3());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        count++;
    }

    /**
     * Hands over, in chunks, a Remove for every evicted entry the index does not hold again, and
     * after each chunk the blobs its entries freed; then forgets them all.
     */
    void drain(Index index, Chunk journal, BlobSink freed) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes.toByteArray()));
        bytes = new ByteArrayOutputStream();
        out = new DataOutputStream(bytes);
        int n = count;
        count = 0;
        List<JournalRecord.Remove> chunk = new ArrayList<>();
        List<Address> blobs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            EntryKey k = new EntryKey(groups.get(in.readInt()), in.readUTF());
            for (int b = in.readInt(); b > 0; b--) {
                blobs.add(new Address(in.readLong(), in.readLong(), in.readLong(), in.readLong()));
            }
            if (index.get(k) == null) {
                chunk.add(new JournalRecord.Remove(k, EvictionCause.MEMORY));
            }
            if (chunk.size() == CHUNK || i == n - 1) {
                journal.append(chunk);
                chunk.clear();
                blobs.forEach(freed::accept);
                blobs.clear();
            }
        }
    }
}
