package io.mithril.agent.diagnosis;

import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.store.NodeStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The torch and Triton versions a set of entries was compiled with, read from the entries: Triton
 * writes {@code "triton_version"} into each kernel's metadata JSON ({@code compiler/compiler.py}), and
 * an Inductor graph entry ({@code fxgraph/}) carries the repro header Inductor writes,
 * {@code # torch version: 2.11.0+cu130}. Null where none of the entries says.
 */
record Versions(String torch, String triton) {

    private static final Pattern TRITON = Pattern.compile("\"triton_version\"\\s*:\\s*\"([^\"]{1,40})\"");
    private static final byte[] TORCH_MARK = "# torch version: ".getBytes(StandardCharsets.US_ASCII);
    /** How much of a graph entry is searched for the header (it sits a few hundred KiB in, in practice). */
    static final int GRAPH_SCAN = 16 << 20;
    /** Entries looked at per kind: the first that names its version answers. */
    private static final int TRIES = 4;

    static Versions of(NodeStore store, List<Entry> entries) throws IOException {
        String torch = null;
        String triton = null;
        int torchTries = 0;
        int tritonTries = 0;
        for (Entry e : entries) {
            String name = e.key().name();
            if (triton == null && tritonTries < TRIES && (name.startsWith("triton/") || name.contains("/triton/"))) {
                for (EntryFile f : e.files()) {
                    if (f.path().endsWith(".json") && !f.path().startsWith("__grp__") && f.size() < (1 << 20)) {
                        tritonTries++;
                        Matcher m =
                                TRITON.matcher(new String(Diagnoser.head(store, f, 1 << 20), StandardCharsets.UTF_8));
                        if (m.find()) {
                            triton = m.group(1);
                        }
                        break;
                    }
                }
            }
            if (torch == null
                    && torchTries < TRIES
                    && name.contains("fxgraph/")
                    && !e.files().isEmpty()) {
                torchTries++;
                torch = torchVersion(store, e.files().get(0));
            }
            if (torch != null && triton != null) {
                break;
            }
        }
        return new Versions(torch, triton);
    }

    /** Searches the first {@link #GRAPH_SCAN} bytes for the header line and returns its version. */
    static String torchVersion(NodeStore store, EntryFile f) throws IOException {
        try (InputStream in = store.open(f.address())) {
            return torchVersion(in);
        }
    }

    static String torchVersion(InputStream in) throws IOException {
        byte[] buf = new byte[1 << 16];
        int keep = TORCH_MARK.length + 64; // the mark and a version may straddle two reads
        byte[] window = new byte[buf.length + keep];
        int carried = 0;
        long seen = 0;
        int n;
        while (seen < GRAPH_SCAN && (n = in.read(buf)) > 0) {
            System.arraycopy(buf, 0, window, carried, n);
            int len = carried + n;
            seen += n;
            int at = indexOf(window, len, TORCH_MARK);
            if (at >= 0) {
                int start = at + TORCH_MARK.length;
                int end = start;
                while (end < len && end - start < 64 && window[end] > ' ' && window[end] < 127) {
                    end++;
                }
                if (end < len || n < buf.length) {
                    return end > start ? new String(window, start, end - start, StandardCharsets.US_ASCII) : null;
                }
            }
            carried = Math.min(keep, len);
            System.arraycopy(window, len - carried, window, 0, carried);
        }
        return null;
    }

    private static int indexOf(byte[] a, int len, byte[] mark) {
        outer:
        for (int i = 0; i + mark.length <= len; i++) {
            for (int j = 0; j < mark.length; j++) {
                if (a[i + j] != mark[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** {@code torch 2.11.0+cu130, triton 3.6.0}, or empty when neither is known. */
    String describe() {
        List<String> out = new ArrayList<>();
        if (torch != null) {
            out.add("torch " + torch);
        }
        if (triton != null) {
            out.add("triton " + triton);
        }
        return String.join(", ", out);
    }

    /** What differs from the published entries' versions ({@code this}) in {@code now}'s, or null. */
    String change(Versions now) {
        List<String> out = new ArrayList<>();
        if (torch != null && now.torch != null && !torch.equals(now.torch)) {
            out.add("torch " + torch + " -> " + now.torch);
        }
        if (triton != null && now.triton != null && !triton.equals(now.triton)) {
            out.add("triton " + triton + " -> " + now.triton);
        }
        return out.isEmpty()
                ? null
                : "the published entries were made with other versions (" + String.join(", ", out)
                        + "): the keys of torch.compile and Triton include them";
    }
}
