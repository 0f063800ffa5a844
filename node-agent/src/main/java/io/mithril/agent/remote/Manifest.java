package io.mithril.agent.remote;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mithril.agent.cas.Address;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.key.GroupId;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * One immutable description of entries a group holds remotely and where each of their blobs lies.
 * Written once by the agent that uploaded them, after the blobs; never changed; named by the BLAKE3
 * of its sealed bytes. Sealed: a first line {@code mithril-manifest-1 hmac-sha256=HEX} and the JSON
 * body; the HMAC covers the format, the group's text and the body, so a manifest copied under
 * another group's folder fails as surely as a forged one.
 */
record Manifest(GroupId group, List<RemoteEntry> entries, Map<Address, Location> blobs) {

    static final String FORMAT = "mithril-manifest-1";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();

    /** An entry as a manifest lists it. */
    record RemoteEntry(String name, List<EntryFile> files) {}

    /**
     * Where a blob's bytes are: a loose object ({@code pack} null) or a slice of a pack, at {@code offset}
     * of the object. {@code length}: the blob's own size; {@code stored}: the bytes it takes in the object,
     * {@code length} when stored raw, a zstd frame's when {@code zstd}. Manifests written before compression
     * carry neither: raw.
     */
    record Location(Address pack, long offset, long length, long stored, boolean zstd) {
        /** Stored raw. */
        Location(Address pack, long offset, long length) {
            this(pack, offset, length, length, false);
        }

        boolean loose() {
            return pack == null;
        }
    }

    /** Not a manifest this agent accepts: wrong signature, wrong group, malformed. */
    static final class Rejected extends Exception {
        Rejected(String why) {
            super(why);
        }
    }

    byte[] seal(byte[] key, String writer) {
        return seal(key, writer, Map.of());
    }

    /**
     * Sealed, with {@code used} (entry name to epoch ms) as each entry's {@code "used"}: retention's
     * record of when an entry was last listed, kept across compactions (readers ignore it).
     */
    byte[] seal(byte[] key, String writer, Map<String, Long> used) {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("group", group.text());
        root.put("writer", writer);
        ArrayNode es = root.putArray("entries");
        for (RemoteEntry e : entries) {
            ObjectNode en = es.addObject();
            en.put("name", e.name());
            if (used.containsKey(e.name())) {
                en.put("used", used.get(e.name()));
            }
            ArrayNode fs = en.putArray("files");
            for (EntryFile f : e.files()) {
                fs.addObject()
                        .put("path", f.path())
                        .put("address", f.address().hex())
                        .put("size", f.size())
                        .put("executable", f.executable());
            }
        }
        ArrayNode bs = root.putArray("blobs");
        blobs.forEach((a, l) -> {
            ObjectNode bn = bs.addObject().put("address", a.hex());
            if (!l.loose()) {
                bn.put("pack", l.pack().hex()).put("offset", l.offset());
            }
            bn.put("length", l.length());
            if (l.zstd()) {
                bn.put("zstd", true).put("stored", l.stored());
            }
        });
        byte[] body;
        try {
            body = JSON.writeValueAsBytes(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return sealed(FORMAT, key, group, body);
    }

    /** {@code body} under a seal line: {@code FORMAT hmac-sha256=HEX}, the HMAC over the format, the group's text and the body. */
    static byte[] sealed(String format, byte[] key, GroupId group, byte[] body) {
        byte[] head = (format + " hmac-sha256=" + HEX.formatHex(mac(format, key, group, body)) + "\n")
                .getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[head.length + body.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(body, 0, out, head.length, body.length);
        return out;
    }

    /** The body of a {@link #sealed} object, if its seal is of {@code format} and verifies for {@code group}. */
    static byte[] unsealed(String format, byte[] sealed, byte[] key, GroupId group) throws Rejected {
        int nl = -1;
        for (int i = 0; i < Math.min(sealed.length, 200); i++) {
            if (sealed[i] == '\n') {
                nl = i;
                break;
            }
        }
        if (nl < 0) {
            throw new Rejected("no seal line");
        }
        String head = new String(sealed, 0, nl, StandardCharsets.US_ASCII);
        String want = format + " hmac-sha256=";
        if (!head.startsWith(want)) {
            throw new Rejected("not " + format);
        }
        byte[] claimed;
        try {
            claimed = HEX.parseHex(head.substring(want.length()));
        } catch (IllegalArgumentException e) {
            throw new Rejected("malformed seal");
        }
        byte[] body = new byte[sealed.length - nl - 1];
        System.arraycopy(sealed, nl + 1, body, 0, body.length);
        if (!MessageDigest.isEqual(claimed, mac(format, key, group, body))) {
            throw new Rejected("authentication failed (another key, another group's object, or altered bytes)");
        }
        return body;
    }

    /** Checks the seal against {@code key} and {@code expected} group, then parses; anything off is {@link Rejected}. */
    static Manifest open(byte[] sealed, byte[] key, GroupId expected) throws Rejected {
        byte[] body = unsealed(FORMAT, sealed, key, expected);
        try {
            JsonNode root = JSON.readTree(body);
            if (!FORMAT.equals(root.path("format").asText())
                    || !expected.text().equals(root.path("group").asText())) {
                throw new Rejected("names another group or format");
            }
            List<RemoteEntry> entries = new ArrayList<>();
            for (JsonNode en : root.path("entries")) {
                List<EntryFile> files = new ArrayList<>();
                for (JsonNode f : en.path("files")) {
                    files.add(new EntryFile(
                            f.path("path").asText(),
                            Address.parse(f.path("address").asText()),
                            f.path("size").asLong(-1),
                            f.path("executable").asBoolean()));
                }
                if (files.isEmpty()) {
                    throw new Rejected("an entry without files");
                }
                entries.add(new RemoteEntry(en.path("name").asText(), List.copyOf(files)));
            }
            Map<Address, Location> blobs = new LinkedHashMap<>();
            for (JsonNode b : root.path("blobs")) {
                long length = b.path("length").asLong(-1);
                long offset = b.has("pack") ? b.path("offset").asLong(-1) : 0;
                boolean zstd = b.path("zstd").asBoolean(false);
                long stored = zstd ? b.path("stored").asLong(-1) : length;
                if (length < 0 || offset < 0 || stored < 0 || (zstd && stored == 0)) {
                    throw new Rejected("a blob with a negative length, offset or stored length");
                }
                blobs.put(
                        Address.parse(b.path("address").asText()),
                        new Location(
                                b.has("pack") ? Address.parse(b.path("pack").asText()) : null,
                                offset,
                                length,
                                stored,
                                zstd));
            }
            return new Manifest(expected, List.copyOf(entries), blobs);
        } catch (IOException | IllegalArgumentException e) {
            throw new Rejected("malformed: " + e.getMessage());
        }
    }

    /** The {@code "used"} times of a manifest {@link #open} accepted, by entry name. */
    static Map<String, Long> usedTimes(byte[] sealed) {
        Map<String, Long> m = new LinkedHashMap<>();
        int nl = 0;
        while (nl < sealed.length && sealed[nl] != '\n') {
            nl++;
        }
        try {
            for (JsonNode en :
                    JSON.readTree(sealed, nl + 1, sealed.length - nl - 1).path("entries")) {
                if (en.has("used")) {
                    m.put(en.path("name").asText(), en.path("used").asLong());
                }
            }
        } catch (IOException e) {
            // opened before: it parses
        }
        return m;
    }

    private static byte[] mac(String format, byte[] key, GroupId group, byte[] body) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(new SecretKeySpec(key, "HmacSHA256"));
            m.update((format + "\n" + group.text() + "\n").getBytes(StandardCharsets.UTF_8));
            return m.doFinal(body);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }
}
