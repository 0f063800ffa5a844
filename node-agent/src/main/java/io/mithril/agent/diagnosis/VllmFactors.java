package io.mithril.agent.diagnosis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.volume.EntryPaths;
import java.io.IOException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * vLLM's record of its compile cache key: {@code torch_compile_cache/<hash>/rank_<r>_<dp>/<prefix>/cache_key_factors.json},
 * written once per cache folder by {@code vllm/compilation/backends.py} with the raw environment
 * factors ({@code env}), and the config, code and compiler hashes (newer versions also their raw
 * factors). A workload whose key changed writes a new one under a new hash: the difference to a
 * published one is the answer to "why did it miss".
 */
final class VllmFactors {

    static final String FILE = "cache_key_factors.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Differences named, at most. */
    private static final int MAX = 8;

    private VllmFactors() {}

    /** {@code vLLM's cache_key_factors.json differs in: env.X (a -> b), config_hash (...)}, or null when there is nothing to compare. */
    static String diff(NodeStore store, List<Entry> before, List<Entry> after) throws IOException {
        Map<String, EntryFile> was = factors(before);
        Map<String, EntryFile> now = factors(after);
        if (was.isEmpty() || now.isEmpty()) {
            return null;
        }
        // the same rank and prefix when both have it, else the first of each
        String pos = now.keySet().stream().filter(was::containsKey).findFirst().orElse(null);
        EntryFile a = pos != null ? was.get(pos) : was.values().iterator().next();
        EntryFile b = pos != null ? now.get(pos) : now.values().iterator().next();
        Map<String, String> x = flatten(JSON.readTree(Diagnoser.head(store, a, 1 << 20)));
        Map<String, String> y = flatten(JSON.readTree(Diagnoser.head(store, b, 1 << 20)));
        List<String> d = Diagnoser.differences(x, y, MAX);
        if (d.isEmpty()) {
            return null; // the same vLLM key: what changed is below it (torch.compile's own keys)
        }
        return "vLLM's " + FILE + " differs in: " + String.join(", ", d);
    }

    /** The factor files of vLLM entries, by their place below the hash ({@code rank_0_0/backbone}). */
    private static Map<String, EntryFile> factors(List<Entry> entries) {
        Map<String, EntryFile> out = new LinkedHashMap<>();
        for (Entry e : entries) {
            if (!e.key().name().startsWith("vllm/")) {
                continue;
            }
            for (EntryFile f : e.files()) {
                String full = EntryPaths.of(e, f);
                if (!full.endsWith("/" + FILE)) {
                    continue;
                }
                int at = full.indexOf("torch_compile_cache/");
                String below = at < 0 ? full : full.substring(at + "torch_compile_cache/".length());
                int slash = below.indexOf('/');
                out.putIfAbsent(slash < 0 ? below : below.substring(slash + 1), f);
            }
        }
        return out;
    }

    /** {@code {"env": {"A": 1}}} as {@code env.A -> 1}; arrays as their JSON text. */
    static Map<String, String> flatten(JsonNode n) {
        Map<String, String> out = new TreeMap<>();
        flatten("", n, out);
        return out;
    }

    private static void flatten(String prefix, JsonNode n, Map<String, String> out) {
        if (n != null && n.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                flatten(prefix.isEmpty() ? f.getKey() : prefix + "." + f.getKey(), f.getValue(), out);
            }
        } else if (n != null) {
            out.put(prefix, n.isTextual() ? n.asText() : n.toString());
        }
    }
}
