package io.mithril.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.ContainerScope;
import io.mithril.api.v1alpha1.DeletionPolicy;
import io.mithril.api.v1alpha1.Framework;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The CRD in {@code crds/} is generated from the Java model by the build (crd-generator-maven-plugin into
 * target/classes/META-INF/fabric8). This test fails the build when the committed copy drifts; refresh it (and the
 * chart's copy in charts/mithril/files/crds, which the chart's crd.yaml template renders) with
 * {@code mvn -pl api test -Dmithril.crds.update=true}.
 */
class CrdTest {

    static final String FILE = "compilecaches.mithril.io-v1.yml";

    static Path generated() {
        return Path.of("target/classes/META-INF/fabric8").resolve(FILE);
    }

    static Path committed() {
        return Path.of(System.getProperty("mithril.crds", "../crds")).resolve(FILE);
    }

    @Test
    void committedCrd_matchesTheOneGeneratedFromTheModel() throws Exception {
        String gen = Files.readString(generated());
        if (Boolean.getBoolean("mithril.crds.update")) {
            Files.createDirectories(committed().getParent());
            Files.copy(generated(), committed(), StandardCopyOption.REPLACE_EXISTING);
            // the chart ships the same file (charts' ChartFilesTest checks they are equal)
            Path chart = committed().getParent().resolveSibling("charts/mithril/files/crds");
            if (Files.isDirectory(chart)) {
                Files.copy(generated(), chart.resolve(FILE), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        assertThat(committed()).as("crds/%s is missing; run: mvn -pl api test -Dmithril.crds.update=true", FILE).exists();
        assertThat(Files.readString(committed()))
                .as("crds/%s drifted from the Java model; run: mvn -pl api test -Dmithril.crds.update=true", FILE)
                .isEqualTo(gen);
    }

    @Test
    void everySpecAndStatusField_hasADescription_andTheColumnsAreThere() throws Exception {
        CustomResourceDefinition crd = Serialization.unmarshal(Files.readString(generated()), CustomResourceDefinition.class);
        assertThat(crd.getSpec().getNames().getShortNames()).containsExactly("cc");
        var version = crd.getSpec().getVersions().get(0);
        assertThat(version.getSubresources().getStatus()).isNotNull();
        assertThat(version.getAdditionalPrinterColumns()).extracting("name")
                .contains("Ready", "Nodes", "Used", "Budget", "Hit Ratio", "Age");
        Map<String, JSONSchemaProps> top = version.getSchema().getOpenAPIV3Schema().getProperties();
        List<String> missing = new ArrayList<>();
        for (String part : List.of("spec", "status")) {
            top.get(part).getProperties().forEach((name, p) -> {
                if (p.getDescription() == null || p.getDescription().isBlank()) {
                    missing.add(part + "." + name);
                }
            });
        }
        assertThat(missing).as("fields without a description (kubectl explain shows nothing)").isEmpty();
        assertThat(top.get("spec").getXKubernetesValidations()).hasSize(2);
    }

    @Test
    void exampleInTheDocs_readsIntoTheModelWithItsValues() throws Exception {
        CompileCache cc = Serialization.unmarshal(Files.readString(Path.of("../docs/examples/compilecache.yaml")), CompileCache.class);
        assertThat(cc.getMetadata().getName()).isEqualTo("gpt-training");
        assertThat(cc.getSpec().getFrameworks()).containsExactly(Framework.Inductor, Framework.Triton);
        assertThat(cc.getSpec().getBudget()).isEqualTo("50Gi");
        assertThat(cc.getSpec().getContainers()).isEqualTo(ContainerScope.GpuContainers);
        assertThat(cc.getSpec().getDeletionPolicy()).isEqualTo(DeletionPolicy.Retain);
        assertThat(cc.getSpec().getPodSelector().getMatchLabels()).containsEntry("app", "gpt-train");
        assertThat(cc.getCRDName()).isEqualTo("compilecaches.mithril.io");
    }

    static JSONSchemaProps specSchema() throws Exception {
        CustomResourceDefinition crd = Serialization.unmarshal(Files.readString(generated()), CustomResourceDefinition.class);
        return crd.getSpec().getVersions().get(0).getSchema().getOpenAPIV3Schema().getProperties().get("spec");
    }

    @Test
    void schema_refusesWhatTheOperatorMarksInvalid_zeroBudgets_unknownSelectorOperators_repeatedFrameworks() throws Exception {
        JSONSchemaProps spec = specSchema();
        java.util.regex.Pattern budget = java.util.regex.Pattern.compile(spec.getProperties().get("budget").getPattern());
        for (String ok : List.of("20Gi", "1", "0.5Gi", "1.5T", "512Mi", "007Ki", "1048576")) {
            assertThat(budget.matcher(ok).matches()).as(ok).isTrue();
        }
        for (String bad : List.of("0", "0Gi", "0.0", "0.00Mi", "000", "0.5", "-1Gi", "20GB", "")) {
            assertThat(budget.matcher(bad).matches()).as(bad).isFalse();
        }
        JSONSchemaProps frameworks = spec.getProperties().get("frameworks");
        assertThat(frameworks.getMaxItems()).isEqualTo(5L);
        assertThat(frameworks.getXKubernetesValidations()).singleElement()
                .satisfies(v -> assertThat(v.getRule()).isEqualTo("self.all(f, self.exists_one(g, g == f))"));
        JSONSchemaProps requirement = spec.getProperties().get("podSelector").getProperties().get("matchExpressions").getItems().getSchema();
        assertThat(requirement.getProperties().get("operator").getEnum()).extracting(n -> n.asText())
                .containsExactlyInAnyOrder("In", "NotIn", "Exists", "DoesNotExist");
        assertThat(requirement.getRequired()).containsExactlyInAnyOrder("key", "operator");
        assertThat(requirement.getXKubernetesValidations()).singleElement().satisfies(v -> assertThat(v.getRule()).contains("has(self.values)"));
    }
}
