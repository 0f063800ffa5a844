package io.mithril.operator.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.operator.certs.CertificateAuthority;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The webhook over real HTTPS (a CA and serving certificate made here), with recorded AdmissionReview JSON. */
@EnableKubernetesMockClient(crud = true)
class WebhookServerIT {

    static KubernetesMockServer mock;
    static KubernetesClient kube;
    static InformerCacheLookup lookup;
    static InformerNamespaceLookup namespaces;
    static final io.mithril.operator.metrics.OperatorMetrics metrics =
            new io.mithril.operator.metrics.OperatorMetrics();
    static WebhookServer server;
    static HttpClient client;
    static String recorded;

    @BeforeAll
    static void start() throws Exception {
        CertificateAuthority ca = CertificateAuthority.create("mithril-webhook-ca", Duration.ofDays(365));
        CertificateAuthority.Issued serving =
                ca.issue(List.of("localhost", "mithril-webhook.mithril-system.svc"), Duration.ofDays(30));
        char[] pw = "changeit".toCharArray();
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ca.keyStore(serving, pw), pw);
        SSLContext serverTls = SSLContext.getInstance("TLS");
        serverTls.init(kmf.getKeyManagers(), null, null);
        kube.namespaces()
                .resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder()
                        .withNewMetadata()
                        .withName("team-r")
                        .addToLabels("pod-security.kubernetes.io/enforce", "restricted")
                        .endMetadata()
                        .build())
                .create();
        kube.limitRanges()
                .inNamespace("team-r")
                .resource(new io.fabric8.kubernetes.api.model.LimitRangeBuilder()
                        .withNewMetadata()
                        .withName("floor")
                        .endMetadata()
                        .withNewSpec()
                        .addNewLimit()
                        .withType("Container")
                        .addToMin("cpu", new io.fabric8.kubernetes.api.model.Quantity("25m"))
                        .endLimit()
                        .endSpec()
                        .build())
                .create();
        for (String[] l : new String[][] {{"team-base", "baseline"}, {"team-priv", "privileged"}}) {
            kube.namespaces()
                    .resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder()
                            .withNewMetadata()
                            .withName(l[0])
                            .addToLabels("pod-security.kubernetes.io/enforce", l[1])
                            .endMetadata()
                            .build())
                    .create();
        }
        for (String[] c : new String[][] {
            {"team-a", "gpt"},
            {"team-two", "one"},
            {"team-two", "two"},
            {"team-r", "gpt"},
            {"team-base", "gpt"},
            {"team-priv", "gpt"},
            {"team-bad", "gpt"}
        }) {
            CompileCache cc = new CompileCache();
            cc.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
                    .withName(c[1])
                    .withNamespace(c[0])
                    .build());
            cc.setSpec(new CompileCacheSpec());
            if (c[0].equals("team-bad")) {
                cc.getSpec()
                        .setBudget("0"); // the mock API server does not enforce the CRD's schema; an old CRD would not
                // either
            }
            kube.resource(cc).create();
        }
        lookup = new InformerCacheLookup(kube); // the production lookup, from an informer on the mock API server
        lookup.start();
        namespaces = new InformerNamespaceLookup(kube);
        namespaces.start();
        org.awaitility.Awaitility.await()
                .atMost(Duration.ofSeconds(20))
                .until(() -> lookup.inNamespace("team-two").size() == 2
                        && namespaces.synced()
                        && namespaces.of("team-r").limitRanges().size() == 1
                        && lookup.inNamespace("team-bad").size() == 1
                        && "privileged".equals(namespaces.of("team-priv").podSecurityEnforce()));
        kube.configMaps()
                .inNamespace("team-a")
                .resource(new io.fabric8.kubernetes.api.model.ConfigMapBuilder()
                        .withNewMetadata()
                        .withName("inductor-env")
                        .endMetadata()
                        .addToData("TORCHINDUCTOR_CACHE_DIR", "/data/inductor")
                        .build())
                .create();
        mock.expect()
                .get()
                .withPath("/api/v1/namespaces/team-a/configmaps/locked")
                .andReturn(
                        403,
                        new io.fabric8.kubernetes.api.model.StatusBuilder()
                                .withCode(403)
                                .withReason("Forbidden")
                                .build())
                .always();
        server = new WebhookServer(
                new InetSocketAddress("127.0.0.1", 0),
                serverTls,
                new PodMutator(Injection.defaults()),
                lookup,
                namespaces,
                new KubeConfigMapLookup(kube),
                metrics);
        server.start();
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ca.trustStore());
        SSLContext clientTls = SSLContext.getInstance("TLS");
        clientTls.init(null, tmf.getTrustManagers(), null);
        client = HttpClient.newBuilder().sslContext(clientTls).build();
        try (InputStream in = WebhookServerIT.class.getResourceAsStream("/admission/gpu-pod-review.json")) {
            recorded = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @AfterAll
    static void stop() {
        server.close();
        lookup.close();
        namespaces.close();
    }

    HttpResponse<String> post(String body) throws Exception {
        return client.send(
                HttpRequest.newBuilder(URI.create("https://localhost:" + server.port() + "/mutate-pods"))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void annotatedGpuPod_isAllowedWithAJsonPatchAndWarnings() throws Exception {
        HttpResponse<String> r = post(recorded);
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode resp = new ObjectMapper().readTree(r.body()).get("response");
        assertThat(resp.get("uid").asText()).isEqualTo("0df28fbd-5f5f-11e8-bc74-36e6bb280816");
        assertThat(resp.get("allowed").asBoolean()).isTrue();
        assertThat(resp.get("patchType").asText()).isEqualTo("JSONPatch");
        JsonNode patch = new ObjectMapper()
                .readTree(Base64.getDecoder().decode(resp.get("patch").asText()));
        assertThat(patch.get(0).get("path").asText()).isEqualTo("/spec");
        assertThat(patch.get(0)
                        .get("value")
                        .get("initContainers")
                        .get(0)
                        .get("name")
                        .asText())
                .isEqualTo("mithril-wait");
        assertThat(patch.get(1).get("value").get("mithril.io/injected").asText())
                .isEqualTo("gpt");
        assertThat(resp.get("warnings").toString()).contains("TRITON_CACHE_DIR");
    }

    /** start() ran the warm-up: the synthetic pod was injected in process, and no admission was counted for it. */
    @Test
    void warmUp_runsTheWholeAdmissionPathInProcess_withoutCountingAnAdmission() {
        assertThat(server.warmUp()).isTrue();
        assertThat(metrics.render()).doesNotContain("outcome=\"error\"} 1");
    }

    @Test
    void podWithoutAnnotation_isAllowedWithoutPatch() throws Exception {
        HttpResponse<String> r = post(recorded.replace("\"mithril.io/cache\": \"enabled\"", "\"other\": \"x\""));
        JsonNode resp = new ObjectMapper().readTree(r.body()).get("response");
        assertThat(resp.get("allowed").asBoolean()).isTrue();
        assertThat(resp.has("patch")).isFalse();
    }

    @Test
    void namespaceWithoutCompileCache_isAllowedWithAWarningThatSaysWhy() throws Exception {
        HttpResponse<String> r = post(recorded.replace("\"namespace\": \"team-a\"", "\"namespace\": \"team-b\""));
        JsonNode resp = new ObjectMapper().readTree(r.body()).get("response");
        assertThat(resp.has("patch")).isFalse();
        assertThat(resp.get("warnings").get(0).asText()).contains("no CompileCache in this namespace");
    }

    @Test
    void alreadyInjectedPod_isAllowedWithoutPatch() throws Exception {
        HttpResponse<String> r = post(recorded.replace(
                "\"mithril.io/cache\": \"enabled\"",
                "\"mithril.io/cache\": \"enabled\", \"mithril.io/injected\": \"gpt\""));
        JsonNode resp = new ObjectMapper().readTree(r.body()).get("response");
        assertThat(resp.get("allowed").asBoolean()).isTrue();
        assertThat(resp.has("patch")).isFalse();
        assertThat(resp.has("warnings")).isFalse();
    }

    @Test
    void namespaceWithTwoCompileCaches_isAllowedWithoutPatch_andAWarningToNameOne() throws Exception {
        HttpResponse<String> r = post(recorded.replace("\"namespace\": \"team-a\"", "\"namespace\": \"team-two\""));
        JsonNode resp = new ObjectMapper().readTree(r.body()).get("response");
        assertThat(resp.has("patch")).isFalse();
        assertThat(resp.get("warnings").get(0).asText())
                .contains("2 CompileCaches")
                .contains("mithril.io/cache-name");
        HttpResponse<String> named = post(recorded.replace("\"namespace\": \"team-a\"", "\"namespace\": \"team-two\"")
                .replace(
                        "\"mithril.io/cache\": \"enabled\"",
                        "\"mithril.io/cache\": \"enabled\", \"mithril.io/cache-name\": \"two\""));
        JsonNode patch = new ObjectMapper()
                .readTree(Base64.getDecoder()
                        .decode(new ObjectMapper()
                                .readTree(named.body())
                                .get("response")
                                .get("patch")
                                .asText()));
        assertThat(patch.get(1).get("value").get("mithril.io/injected").asText())
                .isEqualTo("two");
    }

    @Test
    void nonGpuPod_getsEveryContainerInjected_andSaysWhich() throws Exception {
        HttpResponse<String> r = post(recorded.replace("\"nvidia.com/gpu\": \"1\", ", ""));
        JsonNode resp = new ObjectMapper().readTree(r.body()).get("response");
        JsonNode patch = new ObjectMapper()
                .readTree(Base64.getDecoder().decode(resp.get("patch").asText()));
        assertThat(patch.get(1)
                        .get("value")
                        .get("mithril.io/injected-containers")
                        .asText())
                .isEqualTo("train,log-shipper");
        assertThat(patch.get(0).get("value").get("containers").get(1).get("env").toString())
                .contains("TORCHINDUCTOR_CACHE_DIR");
    }

    @Test
    void malformedJson_andWrongApiVersion_areA400WithOneLine() throws Exception {
        HttpResponse<String> bad = post("{not json");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body())
                .startsWith("malformed AdmissionReview")
                .doesNotContain("Exception")
                .hasLineCount(1);
        HttpResponse<String> v1beta1 = post(recorded.replace("admission.k8s.io/v1", "admission.k8s.io/v1beta1"));
        assertThat(v1beta1.statusCode()).isEqualTo(400);
        assertThat(v1beta1.body()).contains("admission.k8s.io/v1");
        HttpResponse<String> noUid = post(recorded.replace("\"uid\": \"0df28fbd-5f5f-11e8-bc74-36e6bb280816\",", ""));
        assertThat(noUid.statusCode()).isEqualTo(400);
    }

    static JsonNode patchOf(HttpResponse<String> r) throws Exception {
        return new ObjectMapper()
                .readTree(Base64.getDecoder()
                        .decode(new ObjectMapper()
                                .readTree(r.body())
                                .get("response")
                                .get("patch")
                                .asText()));
    }

    @Test
    void restrictedNamespace_withALimitRange_getsEmptyDirMode_andAWaitStepWithinTheRange() throws Exception {
        HttpResponse<String> r = post(recorded.replace("\"namespace\": \"team-a\"", "\"namespace\": \"team-r\""));
        JsonNode spec = patchOf(r).get(0).get("value");
        assertThat(spec.get("volumes").toString()).doesNotContain("hostPath");
        assertThat(spec.get("initContainers")
                        .get(0)
                        .get("resources")
                        .get("requests")
                        .get("cpu")
                        .asText())
                .isEqualTo("25m");
        assertThat(patchOf(r)
                        .get(1)
                        .get("value")
                        .get("mithril.io/injected-volume")
                        .asText())
                .isEqualTo("EmptyDir");
        assertThat(new ObjectMapper()
                        .readTree(r.body())
                        .get("response")
                        .get("warnings")
                        .toString())
                .contains("restricted");
    }

    @Test
    void eachPodSecurityLevel_getsWhatItAdmits_baselineNoHostPath_privilegedTheHostPathView() throws Exception {
        JsonNode baseline =
                patchOf(post(recorded.replace("\"namespace\": \"team-a\"", "\"namespace\": \"team-base\"")));
        assertThat(baseline.get(0).get("value").get("volumes").toString()).doesNotContain("hostPath");
        assertThat(baseline.get(1)
                        .get("value")
                        .get("mithril.io/injected-volume")
                        .asText())
                .isEqualTo("EmptyDir");
        JsonNode privileged =
                patchOf(post(recorded.replace("\"namespace\": \"team-a\"", "\"namespace\": \"team-priv\"")));
        assertThat(privileged.get(0).get("value").get("volumes").toString()).contains("hostPath");
        assertThat(privileged
                        .get(1)
                        .get("value")
                        .get("mithril.io/injected-volume")
                        .asText())
                .isEqualTo("HostPath");
    }

    @Test
    void namespaceLookup_beforeItsInformerSynced_readsRestricted_soNoHostPathIsRisked_afterwardsTheLabel() {
        try (InformerNamespaceLookup fresh = new InformerNamespaceLookup(kube)) {
            assertThat(fresh.of("team-priv").podSecurityEnforce())
                    .as("not started")
                    .isEqualTo("restricted");
        }
        assertThat(namespaces.of("team-priv").podSecurityEnforce()).isEqualTo("privileged");
        assertThat(namespaces.of("created-a-moment-ago").podSecurityEnforce())
                .as("synced, unknown: unlabelled")
                .isNull();
    }

    @Test
    void invalidCompileCache_isNotUsed_andTheWarningSaysWhy() throws Exception {
        JsonNode resp = new ObjectMapper()
                .readTree(post(recorded.replace("\"namespace\": \"team-a\"", "\"namespace\": \"team-bad\""))
                        .body())
                .get("response");
        assertThat(resp.get("allowed").asBoolean()).isTrue();
        assertThat(resp.has("patch")).isFalse();
        assertThat(resp.get("warnings").get(0).asText())
                .contains("CompileCache gpt is invalid")
                .contains("spec.budget");
    }

    @Test
    void guaranteedPod_staysGuaranteed_overHttps() throws Exception {
        HttpResponse<String> r = post(recorded.replace(
                        "\"limits\": {\"nvidia.com/gpu\": \"1\", \"memory\": \"64Gi\"}, \"requests\": {\"cpu\": \"8\", \"memory\": \"64Gi\"}",
                        "\"limits\": {\"nvidia.com/gpu\": \"1\", \"cpu\": \"8\", \"memory\": \"64Gi\"}")
                .replace(
                        "\"resources\": {\"requests\": {\"cpu\": \"50m\"}}",
                        "\"resources\": {\"limits\": {\"cpu\": \"50m\", \"memory\": \"64Mi\"}}"));
        io.fabric8.kubernetes.api.model.PodSpec spec = io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
                patchOf(r).get(0).get("value").toString(), io.fabric8.kubernetes.api.model.PodSpec.class);
        assertThat(PodResources.qos(spec)).isEqualTo(PodResources.QosClass.Guaranteed);
    }

    @Test
    void ephemeralContainerMountingTheView_isDenied_othersAllowed() throws Exception {
        String injected = recorded.replace(
                        "\"operation\": \"CREATE\"",
                        "\"operation\": \"UPDATE\", \"subResource\": \"ephemeralcontainers\"")
                .replace(
                        "\"mithril.io/cache\": \"enabled\"",
                        "\"mithril.io/cache\": \"enabled\", \"mithril.io/injected\": \"gpt\"");
        String peek = injected.replace(
                "\"restartPolicy\": \"Always\"",
                "\"restartPolicy\": \"Always\", \"ephemeralContainers\": [{\"name\": \"peek\", "
                        + "\"image\": \"busybox\", \"volumeMounts\": [{\"name\": \"mithril-view\", \"mountPath\": \"/all\"}]}]");
        JsonNode denied = new ObjectMapper().readTree(post(peek).body()).get("response");
        assertThat(denied.get("allowed").asBoolean()).isFalse();
        assertThat(denied.get("status").get("code").asInt()).isEqualTo(403);
        assertThat(denied.get("status").get("message").asText()).contains("mithril-view");
        String debug = injected.replace(
                "\"restartPolicy\": \"Always\"",
                "\"restartPolicy\": \"Always\", \"ephemeralContainers\": [{\"name\": \"debug\", "
                        + "\"image\": \"busybox\"}]");
        JsonNode allowed = new ObjectMapper().readTree(post(debug).body()).get("response");
        assertThat(allowed.get("allowed").asBoolean()).isTrue();
        assertThat(allowed.has("patch")).isFalse();
        assertThat(metrics.render())
                .as("counted")
                .doesNotContain("mithril_operator_admissions_total{outcome=\"denied\"} 0");
    }

    @Test
    void everyAnswer_isCountedByOutcome_andTimed() throws Exception {
        String before = metrics.render();
        post(recorded);
        post("{not json");
        String after = metrics.render();
        assertThat(count(after, "injected")).isEqualTo(count(before, "injected") + 1);
        assertThat(count(after, "malformed")).isEqualTo(count(before, "malformed") + 1);
        assertThat(after).contains("mithril_operator_admission_duration_seconds_count");
    }

    static long count(String exposition, String outcome) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                        "mithril_operator_admissions_total\\{outcome=\"" + outcome + "\"\\} (\\d+)")
                .matcher(exposition);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    @Test
    void envFromConfigMaps_areReadFromTheApiServer_whatOneSetsIsLeft_anUnreadableOneIsOverriddenAndSaid()
            throws Exception {
        HttpResponse<String> r = post(recorded.replace(
                "\"env\": [{\"name\": \"TRITON_CACHE_DIR\", \"value\": \"/data/triton\"}],",
                "\"envFrom\": [{\"configMapRef\": {\"name\": \"inductor-env\"}}, {\"configMapRef\": {\"name\": \"locked\"}, \"prefix\": \"TRITON_\"},"
                        + " {\"configMapRef\": {\"name\": \"absent\", \"optional\": true}}],"));
        JsonNode resp = new ObjectMapper().readTree(r.body()).get("response");
        JsonNode train = patchOf(r).get(0).get("value").get("containers").get(0);
        assertThat(train.get("env").toString())
                .doesNotContain("TORCHINDUCTOR_CACHE_DIR")
                .contains("/var/cache/mithril/triton");
        assertThat(train.get("envFrom")).hasSize(3);
        assertThat(resp.get("warnings")).hasSize(2);
        assertThat(resp.get("warnings").get(0).asText())
                .contains("sets TORCHINDUCTOR_CACHE_DIR (from ConfigMap inductor-env through envFrom)");
        assertThat(resp.get("warnings").get(1).asText())
                .contains("the injected TRITON_CACHE_DIR overrides whatever ConfigMap locked")
                .contains("could not be read (forbidden)");
    }

    @Test
    void configMapLookup_foundMissingForbidden_andNoReadOnceTheRequestsBudgetIsSpent() {
        ConfigMapLookup perRequest = new KubeConfigMapLookup(kube).forRequest();
        assertThat(perRequest.get("team-a", "inductor-env"))
                .isEqualTo(new ConfigMapLookup.Found(java.util.Map.of("TORCHINDUCTOR_CACHE_DIR", "/data/inductor")));
        assertThat(perRequest.get("team-a", "absent")).isInstanceOf(ConfigMapLookup.Missing.class);
        assertThat(perRequest.get("team-a", "locked")).isEqualTo(new ConfigMapLookup.Unreadable("forbidden"));
        assertThat(new KubeConfigMapLookup(kube, Duration.ZERO).forRequest().get("team-a", "inductor-env"))
                .isInstanceOfSatisfying(
                        ConfigMapLookup.Unreadable.class,
                        u -> assertThat(u.why()).contains("were spent"));
    }
}
