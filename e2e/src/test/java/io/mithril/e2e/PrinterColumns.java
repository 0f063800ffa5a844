package io.mithril.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@code kubectl get compilecaches} prints: the CRD's printer columns (read from the committed
 * CRD in {@code crds/}) evaluated against stored objects. Understands the JSONPath forms the CRD
 * uses: {@code .a.b} and {@code .a[?(@.k=="v")].b}.
 */
final class PrinterColumns {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern FILTER =
            Pattern.compile("(\\.[\\w.]+)\\[\\?\\(@\\.(\\w+)==\"([^\"]*)\"\\)\\](\\.[\\w.]+)");

    private final List<CustomResourceColumnDefinition> columns;

    PrinterColumns(Path crd) throws Exception {
        try (InputStream in = Files.newInputStream(crd)) {
            CustomResourceDefinition def = Serialization.unmarshal(in, CustomResourceDefinition.class);
            columns = def.getSpec().getVersions().get(0).getAdditionalPrinterColumns();
        }
    }

    /** Column name to value, for the columns {@code kubectl get} shows without {@code -o wide}. */
    Map<String, String> row(Object resource) {
        JsonNode root = JSON.valueToTree(resource);
        Map<String, String> out = new LinkedHashMap<>();
        out.put("NAMESPACE", root.path("metadata").path("namespace").asText());
        out.put("NAME", root.path("metadata").path("name").asText());
        for (CustomResourceColumnDefinition c : columns) {
            if (c.getPriority() == null || c.getPriority() == 0) {
                String v = eval(root, c.getJsonPath());
                if ("date".equals(c.getType()) && !v.isEmpty()) { // kubectl shows dates as an age
                    v = java.time.Duration.between(java.time.Instant.parse(v), java.time.Instant.now())
                                    .toSeconds() + "s";
                }
                out.put(c.getName().toUpperCase(java.util.Locale.ROOT), v);
            }
        }
        return out;
    }

    static String eval(JsonNode root, String path) {
        Matcher m = FILTER.matcher(path);
        if (m.matches()) {
            for (JsonNode item : walk(root, m.group(1))) {
                if (m.group(3).equals(item.path(m.group(2)).asText())) {
                    return text(walk(item, m.group(4)));
                }
            }
            return "";
        }
        return text(walk(root, path));
    }

    private static JsonNode walk(JsonNode n, String dotted) {
        for (String part : dotted.substring(1).split("\\.")) {
            n = n.path(part);
        }
        return n;
    }

    private static String text(JsonNode n) {
        if (n.isMissingNode() || n.isNull()) {
            return "";
        }
        if (n.isArray()) {
            List<String> parts = new ArrayList<>();
            n.forEach(x -> parts.add(x.asText()));
            return String.join(",", parts);
        }
        return n.asText();
    }

    /** A table as kubectl prints it. */
    static String table(List<Map<String, String>> rows) {
        if (rows.isEmpty()) {
            return "";
        }
        List<String> names = new ArrayList<>(rows.get(0).keySet());
        Map<String, Integer> width = new LinkedHashMap<>();
        for (String n : names) {
            int w = n.length();
            for (Map<String, String> r : rows) {
                w = Math.max(w, r.get(n).length());
            }
            width.put(n, w);
        }
        StringBuilder b = new StringBuilder();
        for (String n : names) {
            b.append(String.format("%-" + (width.get(n) + 3) + "s", n));
        }
        b.append('\n');
        for (Map<String, String> r : rows) {
            for (String n : names) {
                b.append(String.format("%-" + (width.get(n) + 3) + "s", r.get(n)));
            }
            b.append('\n');
        }
        return b.toString();
    }
}
