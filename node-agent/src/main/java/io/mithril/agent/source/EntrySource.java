package io.mithril.agent.source;

import io.mithril.agent.cas.Address;
import io.mithril.agent.index.Entry;
import io.mithril.agent.key.GroupId;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Where a view's entries come from: the node's own store today, a remote tier or a peer next. A
 * view is always published from the local store; another source's entries are first brought into
 * it ({@link Filler}), every byte verified against its address on the way.
 *
 * <p>What every implementation promises (checked by the conformance suite, {@code
 * EntrySourceContract} in the tests):
 * <ul>
 *   <li>{@link #entries} lists only whole entries: every blob their files name can be fetched.
 *   <li>Groups are apart: a group's listing never holds another group's entries, whatever their
 *       names; an unknown group lists nothing.
 *   <li>A blob is named by its BLAKE3 address; a source may hold it once for many entries.
 *   <li>{@link #fetch} hands over each wanted blob it can, once, and says which it could not.
 *   <li>Nothing a source returns is trusted: the caller hashes what it receives.
 * </ul>
 */
public interface EntrySource extends Closeable {

    /** Names the source in logs and provenance ("store /var/lib/mithril", "s3://bucket/prefix"). */
    String describe();

    /** The group's whole entries, in no particular order; empty for a group the source does not know. */
    List<Entry> entries(GroupId group) throws IOException;

    /** Opens a blob's bytes; throws {@link BlobNotFoundException} when the source does not hold it. */
    InputStream open(Address address) throws IOException;

    /**
     * Hands each of {@code wanted} the source holds to {@code sink}, once each, in any order, and
     * returns those it could not. A source that packs many blobs per object overrides this to fetch
     * them in few requests; the default opens them one by one.
     */
    default Set<Address> fetch(Collection<Address> wanted, BlobSink sink) throws IOException {
        Set<Address> missing = new HashSet<>();
        for (Address a : new HashSet<>(wanted)) {
            InputStream in;
            try {
                in = open(a);
            } catch (BlobNotFoundException e) {
                missing.add(a);
                continue;
            }
            try (in) {
                sink.accept(a, in);
            }
        }
        return missing;
    }

    @Override
    default void close() throws IOException {}

    /** Receives fetched blobs: the address the source claims and a stream of the bytes (not yet verified). */
    @FunctionalInterface
    interface BlobSink {
        void accept(Address claimed, InputStream bytes) throws IOException;
    }
}
