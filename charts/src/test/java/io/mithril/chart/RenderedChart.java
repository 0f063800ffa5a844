package io.mithril.chart;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The chart rendered by {@code helm template} (Helm in-process through helm-java, no cluster) and parsed into
 * fabric8's typed objects; kinds fabric8 does not know (cert-manager's, the ServiceMonitor) come back as
 * {@link GenericKubernetesResource}.
 */
final class RenderedChart {

    /** The chart, relative to this module (surefire runs in the module's folder). */
    static final Path CHART = Path.of("mithril");

    static final String RELEASE = "mithril";
    static final String NAMESPACE = "mithril-system";
    static final String KUBE_VERSION = "1.31.0";

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final Pattern DOCUMENT_SEPARATOR = Pattern.compile("(?m)^---\\s*$");

    final String yaml;
    final List<HasMetadata> objects;

    private RenderedChart(String yaml, List<HasMetadata> objects) {
        this.yaml = yaml;
        this.objects = objects;
    }

    /** Renders with the chart's defaults. */
    static RenderedChart render() {
        return render(RELEASE, null);
    }

    /** Renders release {@code mithril} in {@code mithril-system} with these values over the defaults (YAML). */
    static RenderedChart render(String valuesYaml) {
        return render(RELEASE, valuesYaml);
    }

    static RenderedChart render(String release, String valuesYaml) {
        return render(release, valuesYaml, KUBE_VERSION, Map.of());
    }

    /** As {@code helm template --kube-version KUBE} with {@code --set} pairs (as typed on a command line) over the values. */
    static RenderedChart render(String release, String valuesYaml, String kubeVersion, Map<String, String> sets) {
        return render(CHART, release, valuesYaml, kubeVersion, sets);
    }

    /** As above, of the chart in {@code chart} (a modified copy, for upgrade cases). */
    static RenderedChart render(
            Path chart, String release, String valuesYaml, String kubeVersion, Map<String, String> sets) {
        FakeApiServer.ensureStarted();
        // helm-java renders for Kubernetes 1.20 unless told; the chart needs 1.25 or later.
        TemplateCommand cmd = new Helm(chart)
                .template()
                .withName(release)
                .withNamespace(NAMESPACE)
                .withKubeVersion(kubeVersion);
        for (Map.Entry<String, String> e : sets.entrySet()) {
            cmd = cmd.set(e.getKey(), e.getValue());
        }
        if (valuesYaml != null) {
            try {
                Path values = Files.createTempFile("mithril-values", ".yaml");
                Files.writeString(values, valuesYaml);
                values.toFile().deleteOnExit();
                cmd = cmd.withValuesFile(values);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        String out = cmd.call();
        List<HasMetadata> objects = new ArrayList<>();
        for (String doc : DOCUMENT_SEPARATOR.split(out)) {
            if (doc.lines().allMatch(l -> l.isBlank() || l.trim().startsWith("#"))) {
                continue;
            }
            KubernetesResource r = SERIALIZATION.unmarshal(doc, KubernetesResource.class);
            objects.add((HasMetadata) r);
        }
        return new RenderedChart(out, objects);
    }

    /** A copy of the chart under {@code dir}, to render a modified chart (an upgrade, a hook as a plain template). */
    static Path copyChart(Path dir) throws IOException {
        Path copy = dir.resolve("mithril");
        try (java.util.stream.Stream<Path> files = Files.walk(CHART)) {
            for (Path p : files.sorted().toList()) {
                Path to = copy.resolve(CHART.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(p, to);
                }
            }
        }
        return copy;
    }

    /** The one object of this type and name; fails when there is none or several. */
    <T extends HasMetadata> T get(Class<T> type, String name) {
        List<T> found = all(type).stream()
                .filter(o -> o.getMetadata().getName().equals(name))
                .toList();
        if (found.size() != 1) {
            throw new AssertionError("expected one " + type.getSimpleName() + " " + name + ", found " + found.size()
                    + " among " + names());
        }
        return found.get(0);
    }

    /** The one object of this type; fails when there is none or several. */
    <T extends HasMetadata> T only(Class<T> type) {
        List<T> found = all(type);
        if (found.size() != 1) {
            throw new AssertionError(
                    "expected one " + type.getSimpleName() + ", found " + found.size() + " among " + names());
        }
        return found.get(0);
    }

    <T extends HasMetadata> List<T> all(Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    /** Objects fabric8 has no class for, by kind. */
    List<GenericKubernetesResource> generic(String kind) {
        return all(GenericKubernetesResource.class).stream()
                .filter(g -> kind.equals(g.getKind()))
                .toList();
    }

    List<String> names() {
        return objects.stream()
                .map(o -> o.getKind() + "/" + o.getMetadata().getName())
                .toList();
    }

    /** The labels in a selector string as the operator's --agent-selector takes it ({@code k=v,k=v}). */
    static Map<String, String> parseEqualitySelector(String selector) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String part : selector.split(",")) {
            int eq = part.indexOf('=');
            if (eq <= 0 || part.contains("!=") || part.contains("==")) {
                throw new AssertionError("not an equality selector: " + selector);
            }
            out.put(part.substring(0, eq).trim(), part.substring(eq + 1).trim());
        }
        return out;
    }

    /** {@code --name=value} flags of a command line, by name; {@code --flag} alone maps to "". */
    static Map<String, String> flags(List<String> args) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String a : args) {
            if (a.startsWith("--")) {
                int eq = a.indexOf('=');
                out.put(eq < 0 ? a : a.substring(0, eq), eq < 0 ? "" : a.substring(eq + 1));
            }
        }
        return out;
    }

    /** The operator's container. */
    Container operator() {
        return only(Deployment.class)
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0);
    }

    /** The node agent's container. */
    Container agent() {
        return only(DaemonSet.class)
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0);
    }

    Map<String, String> operatorFlags() {
        return flags(operator().getArgs());
    }

    /** The agent's flags, global ones (before {@code serve}) and serve's together. */
    Map<String, String> agentFlags() {
        return flags(agent().getArgs());
    }
}
