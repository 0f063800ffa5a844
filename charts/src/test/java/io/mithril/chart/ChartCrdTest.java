package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CRD is a template, so `helm upgrade` applies the chart's schema (Helm never upgrades crds/). These
 * tests check what Helm renders, and so what an install or upgrade sends; not what an API server does
 * with it (there is none here): the schema's acceptance and a stored object's migration are unverified.
 */
class ChartCrdTest {

    static final KubernetesSerialization JSON = new KubernetesSerialization();

    static CustomResourceDefinition generated() throws Exception {
        return JSON.unmarshal(
                Files.readString(Path.of("../crds/compilecaches.mithril.io-v1.yml")), CustomResourceDefinition.class);
    }

    @Test
    void defaults_crd_isTheGeneratedOne_asATemplate_keptOnUninstall() throws Exception {
        RenderedChart chart = RenderedChart.render();
        CustomResourceDefinition crd = chart.get(CustomResourceDefinition.class, "compilecaches.mithril.io");
        assertThat(crd.getSpec()).isEqualTo(generated().getSpec());
        assertThat(crd.getMetadata().getAnnotations()).containsEntry("helm.sh/resource-policy", "keep");
        assertThat(crd.getMetadata().getLabels()).containsEntry("app.kubernetes.io/managed-by", "Helm");
        assertThat(Files.exists(RenderedChart.CHART.resolve("crds")))
                .as("nothing left in Helm's install-once folder")
                .isFalse();
    }

    @Test
    void crdsOff_orNotKept_areRespected() {
        assertThat(RenderedChart.render("crds: {install: false}").all(CustomResourceDefinition.class))
                .isEmpty();
        assertThat(RenderedChart.render("crds: {keep: false}")
                        .only(CustomResourceDefinition.class)
                        .getMetadata()
                        .getAnnotations())
                .doesNotContainKey("helm.sh/resource-policy");
    }

    @Test
    void upgrade_chartWhoseModelGainedAField_rendersTheFieldIntoTheCrd(@TempDir Path tmp) throws Exception {
        Path chart = RenderedChart.copyChart(tmp);
        // the next version of the model: spec.maxEntries
        CustomResourceDefinition next = generated();
        next.getSpec()
                .getVersions()
                .get(0)
                .getSchema()
                .getOpenAPIV3Schema()
                .getProperties()
                .get("spec")
                .getProperties()
                .put(
                        "maxEntries",
                        new JSONSchemaPropsBuilder()
                                .withType("integer")
                                .withDescription("new in the next version")
                                .build());
        Files.writeString(chart.resolve("files/crds/compilecaches.mithril.io-v1.yml"), JSON.asYaml(next));

        CustomResourceDefinition before = RenderedChart.render().only(CustomResourceDefinition.class);
        CustomResourceDefinition after = RenderedChart.render(
                        chart, RenderedChart.RELEASE, null, RenderedChart.KUBE_VERSION, Map.of())
                .only(CustomResourceDefinition.class);
        assertThat(before.getSpec()
                        .getVersions()
                        .get(0)
                        .getSchema()
                        .getOpenAPIV3Schema()
                        .getProperties()
                        .get("spec")
                        .getProperties())
                .doesNotContainKey("maxEntries");
        assertThat(after.getSpec()
                        .getVersions()
                        .get(0)
                        .getSchema()
                        .getOpenAPIV3Schema()
                        .getProperties()
                        .get("spec")
                        .getProperties())
                .containsKey("maxEntries");
        assertThat(after.getMetadata().getName()).isEqualTo(before.getMetadata().getName());
        assertThat(after.getMetadata().getAnnotations()).containsEntry("helm.sh/resource-policy", "keep");
    }
}
