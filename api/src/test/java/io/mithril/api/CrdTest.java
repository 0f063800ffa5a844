package io.mithril.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

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
        assertThat(committed())
                .as("crds/%s is missing; run: mvn -pl api test -Dmithril.crds.update=true", FILE)
                .exists();
        assertThat(Files.readString(committed()))
                .as("crds/%s drifted from the Java model; run: mvn -pl api test -Dmithril.crds.update=true", FILE)
                .isEqualTo(gen);
    }

    @Test
    void shortNameStatusAndColumns_areThere() throws Exception {
        CustomResourceDefinition crd =
                Serialization.unmarshal(Files.readString(generated()), CustomResourceDefinition.class);
        assertThat(crd.getSpec().getNames().getShortNames()).containsExactly("cc");
        var version = crd.getSpec().getVersions().get(0);
        assertThat(version.getSubresources().getStatus()).isNotNull();
        assertThat(version.getAdditionalPrinterColumns())
                .extracting("name")
                .contains("Ready", "Nodes", "Used", "Budget", "Hit Ratio", "Age");
        Map<String, JSONSchemaProps> top =
                version.getSchema().getOpenAPIV3Schema().getProperties();
        assertThat(top.get("spec").getXKubernetesValidations()).hasSize(3);
        assertThat(top.get("spec").getXKubernetesValidations())
                .extracting("rule")
                .contains(
                        "!has(self.remote) || !has(self.remote.fetchDeadlineSeconds) "
                                + "|| self.remote.fetchDeadlineSeconds < (has(self.publishTimeoutSeconds) ? self.publishTimeoutSeconds : 30)");
        Map<String, JSONSchemaProps> remote =
                top.get("spec").getProperties().get("remote").getProperties();
        assertThat(remote).containsOnlyKeys("enabled", "prewarm", "budget", "fetchDeadlineSeconds");
        assertThat(remote.get("enabled").getDefault().asBoolean()).isTrue();
        assertThat(remote.get("prewarm").getDefault().asBoolean()).isFalse();
        assertThat(remote.get("fetchDeadlineSeconds").getDefault().asInt()).isEqualTo(10);
        assertThat(version.getAdditionalPrinterColumns())
                .filteredOn(c -> c.getName().equals("Remote Hits"))
                .extracting("jsonPath", "priority")
                .containsExactly(tuple(".status.remote.hits", 1));
    }

    /** Every property at any depth (objects, array items, map values), with its path, that has no description. */
    static void undescribed(String path, JSONSchemaProps schema, List<String> out) {
        if (schema == null) {
            return;
        }
        if (schema.getProperties() != null) {
            schema.getProperties().forEach((name, p) -> {
                if (p.getDescription() == null || p.getDescription().isBlank()) {
                    out.add(path + name);
                }
                undescribed(path + name + ".", p, out);
            });
        }
        if (schema.getItems() != null) {
            undescribed(path, schema.getItems().getSchema(), out);
        }
        if (schema.getAdditionalProperties() != null) {
            undescribed(path, schema.getAdditionalProperties().getSchema(), out);
        }
    }

    @Test
    void everyPropertyAtAnyDepth_hasADescription_soKubectlExplainShowsOne() throws Exception {
        CustomResourceDefinition crd =
                Serialization.unmarshal(Files.readString(generated()), CustomResourceDefinition.class);
        JSONSchemaProps root = crd.getSpec().getVersions().get(0).getSchema().getOpenAPIV3Schema();
        List<String> missing = new ArrayList<>();
        undescribed("", root, missing);
        assertThat(missing).as("properties without a description").isEmpty();
        // the walk reaches the nested ones kubectl explain showed empty before
        JSONSchemaProps selector =
                root.getProperties().get("spec").getProperties().get("podSelector");
        assertThat(selector.getProperties()
                        .get("matchExpressions")
                        .getItems()
                        .getSchema()
                        .getProperties())
                .containsOnlyKeys("key", "operator", "values");
        List<String> probe = new ArrayList<>();
        JSONSchemaProps bare = new JSONSchemaProps();
        bare.setProperties(Map.of("a", new JSONSchemaProps()));
        JSONSchemaProps list = new JSONSchemaProps();
        list.setDescription("described");
        list.setItems(new io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsOrArray(null, bare));
        undescribed(
                "",
                new io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder()
                        .addToProperties("list", list)
                        .build(),
                probe);
        assertThat(probe).as("the walk looks into array items").containsExactly("list.a");
    }

    @Test
    void conditionsSchema_hasTheFieldsOfTheConditionTheStatusHolds() throws Exception {
        JSONSchemaProps conditions = Serialization.unmarshal(
                        Files.readString(generated()), CustomResourceDefinition.class)
                .getSpec()
                .getVersions()
                .get(0)
                .getSchema()
                .getOpenAPIV3Schema()
                .getProperties()
                .get("status")
                .getProperties()
                .get("conditions");
        assertThat(conditions.getType()).isEqualTo("array");
        io.fabric8.kubernetes.api.model.Condition full = new io.fabric8.kubernetes.api.model.ConditionBuilder()
                .withType("Ready")
                .withStatus("True")
                .withReason("AllAgentsReporting")
                .withMessage("m")
                .withLastTransitionTime("2026-12-01T00:00:00Z")
                .withObservedGeneration(1L)
                .build();
        Map<?, ?> wire = Serialization.unmarshal(Serialization.asJson(full), Map.class);
        assertThat(conditions.getItems().getSchema().getProperties().keySet()).isEqualTo(wire.keySet());
    }

    @Test
    void exampleInTheDocs_readsIntoTheModelWithItsValues() throws Exception {
        CompileCache cc = Serialization.unmarshal(
                Files.readString(Path.of("../docs/examples/compilecache.yaml")), CompileCache.class);
        assertThat(cc.getMetadata().getName()).isEqualTo("gpt-training");
        assertThat(cc.getSpec().getFrameworks()).containsExactly(Framework.Inductor, Framework.Triton);
        assertThat(cc.getSpec().getBudget()).isEqualTo("50Gi");
        assertThat(cc.getSpec().getContainers()).isEqualTo(ContainerScope.GpuContainers);
        assertThat(cc.getSpec().getDeletionPolicy()).isEqualTo(DeletionPolicy.Retain);
        assertThat(cc.getSpec().getPodSelector().getMatchLabels()).containsEntry("app", "gpt-train");
        assertThat(cc.getCRDName()).isEqualTo("compilecaches.mithril.io");
    }

    static JSONSchemaProps specSchema() throws Exception {
        CustomResourceDefinition crd =
                Serialization.unmarshal(Files.readString(generated()), CustomResourceDefinition.class);
        return crd.getSpec()
                .getVersions()
                .get(0)
                .getSchema()
                .getOpenAPIV3Schema()
                .getProperties()
                .get("spec");
    }

    @Test
    void schema_refusesWhatTheOperatorMarksInvalid_zeroBudgets_unknownSelectorOperators_repeatedFrameworks()
            throws Exception {
        JSONSchemaProps spec = specSchema();
        java.util.regex.Pattern budget = java.util.regex.Pattern.compile(
                spec.getProperties().get("budget").getPattern());
        for (String ok : List.of("20Gi", "1", "0.5Gi", "1.5T", "512Mi", "007Ki", "1048576")) {
            assertThat(budget.matcher(ok).matches()).as(ok).isTrue();
        }
        for (String bad : List.of("0", "0Gi", "0.0", "0.00Mi", "000", "0.5", "-1Gi", "20GB", "")) {
            assertThat(budget.matcher(bad).matches()).as(bad).isFalse();
        }
        JSONSchemaProps frameworks = spec.getProperties().get("frameworks");
        assertThat(frameworks.getMaxItems()).isEqualTo((long) Framework.values().length);
        assertThat(frameworks.getItems().getSchema().getEnum())
                .extracting(n -> n.asText())
                .containsExactlyInAnyOrder(java.util.Arrays.stream(Framework.values())
                        .map(Framework::wire)
                        .toArray(String[]::new))
                .contains("FlashInfer");
        assertThat(frameworks.getXKubernetesValidations())
                .singleElement()
                .satisfies(v -> assertThat(v.getRule()).isEqualTo("self.all(f, self.exists_one(g, g == f))"));
        JSONSchemaProps requirement = spec.getProperties()
                .get("podSelector")
                .getProperties()
                .get("matchExpressions")
                .getItems()
                .getSchema();
        assertThat(requirement.getProperties().get("operator").getEnum())
                .extracting(n -> n.asText())
                .containsExactlyInAnyOrder("In", "NotIn", "Exists", "DoesNotExist");
        assertThat(requirement.getRequired()).containsExactlyInAnyOrder("key", "operator");
        assertThat(requirement.getXKubernetesValidations())
                .singleElement()
                .satisfies(v -> assertThat(v.getRule()).contains("has(self.values)"));
    }
}
