package io.mithril.agent.diagnosis;

import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreStats;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says why a workload's run was cold, from what Mithril saw of it: what its view was published with,
 * what it read of that, and what it compiled and Mithril ingested (docs/troubleshooting.md, "Why did
 * I miss?"). Where the framework's key changed it names what changed, from the entries themselves:
 * vLLM's {@code cache_key_factors.json} of the published entries against the one the workload wrote,
 * and the torch and Triton versions the published and the new entries were made with. It reads only
 * the store's own blobs (never the workload's folder), and only when a run missed.
 */
public final class Diagnoser {

    private static final Logger log = LoggerFactory.getLogger(Diagnoser.class);
    private final NodeStore store;

    /** One run's verdict; {@link #line()} is what a user reads. */
    public record Diagnosis(Outcome outcome, String detail) {
        public String line() {
            return detail.isEmpty() ? outcome.label() : outcome.label() + ": " + detail;
        }
    }

    public Diagnoser(NodeStore store) {
        this.store = store;
    }

    /** A run whose view could not be published, for {@code why}. */
    public static Diagnosis noView(String why) {
        return new Diagnosis(
                Outcome.NO_VIEW, "the view could not be published (" + why + "); the run started with empty folders");
    }

    /**
     * @param published the entries its view was published with
     * @param read      those it read
     * @param committed names of the entries ingested from it (new, or new versions of published ones)
     */
    public Diagnosis diagnose(
            GroupId group, Collection<EntryKey> published, Collection<EntryKey> read, Collection<String> committed) {
        Set<String> newNames = new LinkedHashSet<>(committed);
        try {
            if (published.isEmpty()) {
                return new Diagnosis(Outcome.NOTHING_PUBLISHED, nothingPublished(group, newNames.size()));
            }
            if (read.isEmpty() && newNames.isEmpty()) {
                return new Diagnosis(
                        Outcome.UNUSED,
                        "published " + published.size() + " entries; the workload read none and "
                                + "compiled nothing into the cache folders (it did not compile, or not where the cache variables point)");
            }
            if (read.isEmpty()) {
                return new Diagnosis(
                        Outcome.KEY_CHANGED,
                        "read none of the " + published.size() + " published entries and compiled " + newNames.size()
                                + " new ones: " + keyChange(group, published, newNames));
            }
            if (newNames.isEmpty()) {
                return new Diagnosis(
                        Outcome.WARM,
                        "read " + read.size() + " of " + published.size() + " published entries, compiled nothing");
            }
            return new Diagnosis(Outcome.RECOMPILED, recompiled(group, published, read, newNames));
        } catch (IOException | RuntimeException e) {
            log.debug("diagnosis of {} failed: {}", group.text(), e.toString());
            return new Diagnosis(
                    read.isEmpty() ? Outcome.KEY_CHANGED : Outcome.RECOMPILED,
                    "read " + read.size() + " of " + published.size() + " published entries, compiled "
                            + newNames.size());
        }
    }

    private String nothingPublished(GroupId group, int compiled) throws IOException {
        List<String> others = new ArrayList<>();
        for (StoreStats.Group g : store.stats().groups()) {
            GroupId o = g.group();
            if (g.entries() > 0
                    && !o.equals(group)
                    && o.namespace().equals(group.namespace())
                    && o.cache().equals(group.cache())) {
                others.add(o.device().text() + "/" + o.product().slug() + " (" + g.entries() + " entries)");
            }
        }
        String after = compiled == 0 ? "" : "; it compiled " + compiled + " entries, which the next run here is served";
        if (!others.isEmpty()) {
            return "this node holds " + group.namespace() + "/" + group.cache() + " only for "
                    + String.join(", ", others)
                    + ", not for " + group.device().text() + "/"
                    + group.product().slug()
                    + " (entries are never served to another device class or GPU product)" + after;
        }
        return "the group " + group.text() + " is empty on this node (its first run here, or its entries were evicted)"
                + after;
    }

    private String keyChange(GroupId group, Collection<EntryKey> published, Set<String> newNames) throws IOException {
        List<Entry> before =
                entries(group, published.stream().map(EntryKey::name).toList());
        List<Entry> after = entries(group, newNames);
        String vllm = VllmFactors.diff(store, before, after);
        if (vllm != null) {
            return vllm;
        }
        Versions was = Versions.of(store, before);
        Versions now = Versions.of(store, after);
        String versions = was.change(now);
        if (versions != null) {
            return versions;
        }
        String same = now.describe();
        return "the framework computed other keys (for torch.compile: another model or graph, other input shapes or dtypes, "
                + "other compile options or settings)" + (same.isEmpty() ? "" : "; same " + same);
    }

    private String recompiled(
            GroupId group, Collection<EntryKey> published, Collection<EntryKey> read, Set<String> newNames)
            throws IOException {
        Set<String> readNames = new LinkedHashSet<>();
        read.forEach(k -> readNames.add(k.name()));
        List<String> rewritten = newNames.stream().filter(readNames::contains).toList();
        StringBuilder b = new StringBuilder("read " + read.size() + " of " + published.size()
                + " published entries, then compiled " + newNames.size() + " more");
        if (!rewritten.isEmpty()) {
            b.append(", rewriting ")
                    .append(rewritten.size())
                    .append(" it had read (")
                    .append(rewritten.get(0))
                    .append(rewritten.size() > 1 ? ", ..." : "")
                    .append(")");
        }
        List<String> fresh =
                newNames.stream().filter(n -> !readNames.contains(n)).toList();
        if (!fresh.isEmpty()) {
            String versions = Versions.of(
                            store,
                            entries(
                                    group,
                                    published.stream().map(EntryKey::name).toList()))
                    .change(Versions.of(store, entries(group, fresh)));
            b.append(
                    versions != null
                            ? "; " + versions
                            : "; new shapes or graphs, or a changed setting (e.g. " + fresh.get(0) + ")");
        }
        return b.toString();
    }

    private List<Entry> entries(GroupId group, Collection<String> names) {
        List<Entry> out = new ArrayList<>();
        for (String n : names) {
            Entry e = store.lookup(new EntryKey(group, n));
            if (e != null) {
                out.add(e);
            }
        }
        return out;
    }

    /** The first {@code max} bytes of one file of an entry (the store's blob). */
    static byte[] head(NodeStore store, EntryFile f, int max) throws IOException {
        try (var in = store.open(f.address())) {
            return in.readNBytes(max);
        }
    }

    /** A map's differences as {@code key (a -> b)}, at most {@code max} of them. */
    static List<String> differences(Map<String, String> a, Map<String, String> b, int max) {
        List<String> out = new ArrayList<>();
        Set<String> keys = new TreeMap<String, String>(a).keySet();
        Set<String> all = new LinkedHashSet<>(keys);
        all.addAll(new TreeMap<>(b).keySet());
        for (String k : all) {
            String x = a.get(k);
            String y = b.get(k);
            if (x == null ? y != null : !x.equals(y)) {
                if (out.size() == max) {
                    out.add("...");
                    break;
                }
                out.add(k + " (" + shorten(x) + " -> " + shorten(y) + ")");
            }
        }
        return out;
    }

    private static String shorten(String v) {
        if (v == null) {
            return "unset";
        }
        return v.length() <= 40 ? v : v.substring(0, 37) + "...";
    }
}
