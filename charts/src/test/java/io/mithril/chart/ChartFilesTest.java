package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The chart's files against their sources: the CRD, values.yaml's comments. */
class ChartFilesTest {

    static final Path CRD = Path.of("compilecaches.mithril.io-v1.yml");
    static final Path VALUES = RenderedChart.CHART.resolve("values.yaml");
    private static final Pattern KEY_LINE = Pattern.compile("^(\\s*)([^\\s#:-][^:]*):(\\s.*)?$");

    @Test
    void chartCrd_isACopyOfTheTopLevelCrd() throws Exception {
        Path chartCrd = RenderedChart.CHART.resolve("crds").resolve(CRD);
        assertThat(Files.isSymbolicLink(chartCrd)).as("a copy, not a link (helm package would not follow it)").isFalse();
        assertThat(Files.isRegularFile(chartCrd, LinkOption.NOFOLLOW_LINKS)).isTrue();
        assertThat(Files.readString(chartCrd)).as("charts/mithril/crds/%s drifted; run: cp crds/%s charts/mithril/crds/", CRD, CRD)
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
                String next = lines.subList(i + 1, lines.size()).stream().filter(n -> !n.isBlank() && !n.trim().startsWith("#"))
                        .findFirst().orElse("");
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
        assertThat(leaves).extracting(Leaf::path).contains("waitImage", "agent.nodeBudget", "agent.tolerations",
                "operator.resources.requests.cpu", "agent.nodeSelector.nvidia.com/gpu.present");
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
}
