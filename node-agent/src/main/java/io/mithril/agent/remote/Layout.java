package io.mithril.agent.remote;

import io.mithril.agent.cas.Address;
import io.mithril.agent.key.GroupId;

/**
 * Object keys under the remote's prefix (docs/remote.md, "Object layout"):
 * <pre>
 *   PREFIX/blobs/&lt;blake3&gt;                          a large file's bytes (loose)
 *   PREFIX/packs/&lt;blake3&gt;                          small files' bytes, concatenated; the hash is the pack's own
 *   PREFIX/groups/NS/CACHE/DEVICE/PRODUCT/manifests/&lt;blake3&gt;   a signed manifest; the hash is the object's
 *   PREFIX/uses/NS/CACHE/DEVICE/PRODUCT/&lt;blake3&gt;    a signed record of entries fills fetched (retention reads it)
 * </pre>
 * Blobs and packs are shared by every group (they are only bytes named by their hash); what a group
 * holds is only what its own, authenticated manifests list.
 */
final class Layout {
    private final String prefix;

    Layout(String prefix) {
        this.prefix = prefix;
    }

    String blob(Address a) {
        return prefix + "blobs/" + a.hex();
    }

    String pack(Address a) {
        return prefix + "packs/" + a.hex();
    }

    /** The folder of a group's manifests; {@link GroupId#text()}'s parts are DNS labels and slugs, safe as key parts. */
    String manifests(GroupId g) {
        return prefix + "groups/" + g.text() + "/manifests/";
    }

    String manifest(GroupId g, Address a) {
        return manifests(g) + a.hex();
    }

    String blobs() {
        return prefix + "blobs/";
    }

    String packs() {
        return prefix + "packs/";
    }

    /** Every group's manifests lie under this. */
    String groups() {
        return prefix + "groups/";
    }

    /** Every group's use records lie under this (fills never list it). */
    String uses() {
        return prefix + "uses/";
    }

    String use(GroupId g, Address a) {
        return uses() + g.text() + "/" + a.hex();
    }

    /** The object whose holder ran retention on this prefix before lock generations (still respected while live). */
    String gcLock() {
        return prefix + "gc.lock";
    }

    /** The retention lock's generations: {@code gc-lock/<n>}, each written once; and {@code gc-lock/hint}. */
    String gcLocks() {
        return prefix + "gc-lock/";
    }
}
