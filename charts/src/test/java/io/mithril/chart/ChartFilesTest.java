package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The chart's files against their sources: the CRD, values.yaml's comments, docs/configuration.md. */
class ChartFilesTest {

    static final Path CRD = Path.of("compilecaches.mithril.io-v1.yml");
    static final Path VALUES = RenderedChart.CHART.resolve("values.yaml");
    static final Path DOC = Path.of("../docs/configuration.md");
    private static final Pattern KEY_LINE = Pattern.compile("^(\\s*)([^\\s#:-][^:]*):(\\s.*)?$");
    private static final Pattern DOC_ROW = Pattern.compile("^\\| `([^`]+)` \\| (.*?) \\|");

    @Test
    void chartCrd_isACopyOfTheTopLevelCrd() throws Exception {
        Path chartCrd = RenderedChart.CHART.resolve("files/crds").resolve(CRD);
        assertThat(Files.isSymbolicLink(chartCrd))
                .as("a copy, not a link (helm package would not follow it)")
                .isFalse();
        assertThat(Files.isRegularFile(chartCrd, LinkOption.NOFOLLOW_LINKS)).isTrue();
        assertThat(Files.readString(chartCrd))
                .as(
                        "charts/mithril/files/crds/%s drifted; run: mvn -pl api test -Dmithril.crds.update=true (or cp crds/%s charts/mithril/files/crds/)",
                        CRD, CRD)
                .isEqualTo(Files.readString(Path.of("../crds").resolve(CRD)));
    }

    /** A key line whose value is not a nested block of keys. */
    record Leaf(int line, String path, String text) {}

    /**
     * values.yaml's leaves (scalars, lists, flow maps), by dotted path; keys inside list items are the
     * list's content, not values of their own. Nested blocks (sections) are not leaves.
     */
    static List<Leaf> leaves(List<String> lines) {
        List<Leaf> out = new ArrayList<>();
        List<Object[]> stack = new ArrayList<>(); // {indent, key}
        int listIndent = -1;
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            if (l.isBlank() || l.trim().startsWith("#")) {
                continue;
            }
            int indent = l.length() - l.stripLeading().length();
            if (listIndent >= 0 && indent >= listIndent) {
                continue;
            }
            listIndent = -1;
            if (l.trim().startsWith("- ")) {
                listIndent = indent;
                continue;
            }
            Matcher m = KEY_LINE.matcher(l);
            if (!m.matches()) {
                continue;
            }
            while (!stack.isEmpty() && (int) stack.get(stack.size() - 1)[0] >= indent) {
                stack.remove(stack.size() - 1);
            }
            StringBuilder path = new StringBuilder();
            stack.forEach(s -> path.append(s[1]).append('.'));
            path.append(m.group(2).trim());
            stack.add(new Object[] {indent, m.group(2).trim()});
            String value = m.group(3) == null ? "" : m.group(3).trim();
            boolean block = value.isEmpty() || value.startsWith("#");
            if (block) {
                // a block: a leaf only when a list follows (tolerations:), else a section of keys
                String next = lines.subList(i + 1, lines.size()).stream()
                        .filter(n -> !n.isBlank() && !n.trim().startsWith("#"))
                        .findFirst()
                        .orElse("");
                if (!next.trim().startsWith("- ")) {
                    continue;
                }
            }
            out.add(new Leaf(i, path.toString(), l));
        }
        return out;
    }

    @Test
    void valuesYaml_everyValue_hasAComment() throws Exception {
        List<String> lines = Files.readAllLines(VALUES);
        List<Leaf> leaves = leaves(lines);
        assertThat(leaves)
                .extracting(Leaf::path)
                .contains(
                        "waitImage",
                        "agent.nodeBudget",
                        "agent.tolerations",
                        "operator.resources.requests.cpu",
                        "agent.gpuNodeLabels");
        List<String> bare = new ArrayList<>();
        for (Leaf leaf : leaves) {
            boolean inline = leaf.text().matches(".*\\s#\\s.*");
            boolean above = leaf.line() > 0 && lines.get(leaf.line() - 1).trim().startsWith("#");
            if (!inline && !above) {
                bare.add(leaf.path());
            }
        }
        assertThat(bare).as("values without a comment on the line above").isEmpty();
    }

    static Map<String, String> docRows() throws Exception {
        Map<String, String> rows = new LinkedHashMap<>();
        for (String l : Files.readAllLines(DOC)) {
            Matcher m = DOC_ROW.matcher(l);
            if (m.find() && !m.group(1).equals("value")) {
                rows.put(m.group(1), m.group(2));
            }
        }
        return rows;
    }

    @SuppressWarnings("unchecked")
    static Object valueAt(Map<String, Object> values, String path) {
        Object o = values;
        String rest = path;
        while (!rest.isEmpty()) {
            if (!(o instanceof Map)) {
                return null;
            }
            Map<String, Object> map = (Map<String, Object>) o;
            // keys may hold dots themselves (nvidia.com/gpu.present): take the longest key that matches
            String key = null;
            for (String k : map.keySet()) {
                if ((rest.equals(k) || rest.startsWith(k + ".")) && (key == null || k.length() > key.length())) {
                    key = k;
                }
            }
            if (key == null) {
                return null;
            }
            o = map.get(key);
            rest = rest.equals(key) ? "" : rest.substring(key.length() + 1);
        }
        return o;
    }

    @Test
    @SuppressWarnings("unchecked")
    void configurationDoc_listsEveryValue_withItsDefault_andNoOther() throws Exception {
        Map<String, String> rows = docRows();
        Map<String, Object> values = new KubernetesSerialization().unmarshal(Files.readString(VALUES), Map.class);
        List<String> missing = new ArrayList<>();
        for (Leaf leaf : leaves(Files.readAllLines(VALUES))) {
            // a row for the value itself, or for a value holding it below the top level (operator.resources)
            String p = leaf.path();
            boolean covered = rows.containsKey(p);
            for (int dot = p.indexOf('.', p.indexOf('.') + 1); !covered && dot > 0; dot = p.indexOf('.', dot + 1)) {
                covered = rows.containsKey(p.substring(0, dot)) && valueAt(values, p.substring(0, dot)) instanceof Map;
            }
            if (!covered) {
                missing.add(p);
            }
        }
        assertThat(missing).as("values missing from %s", DOC).isEmpty();
        List<String> wrong = new ArrayList<>();
        rows.forEach((path, cell) -> {
            Object v = valueAt(values, path);
            if (v == null) {
                wrong.add(path + ": not in values.yaml");
            } else if (!(v instanceof Map) && !(v instanceof List)) {
                String want = "`" + (v.toString().isEmpty() ? "\"\"" : v) + "`";
                if (!cell.equals(want)) {
                    wrong.add(path + ": doc says " + cell + ", values.yaml " + want);
                }
            } else if ((v instanceof Map<?, ?> m && m.isEmpty() && !cell.equals("`{}`"))
                    || (v instanceof List<?> list && list.isEmpty() && !cell.equals("`[]`"))) {
                wrong.add(path + ": doc says " + cell + ", values.yaml is empty");
            }
        });
        assertThat(wrong).isEmpty();
    }
}
