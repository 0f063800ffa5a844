package io.mithril.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.CompileCacheStatus;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StatusAggregatorTest {

    static CompileCache cc(String budget) {
        CompileCache cc = new CompileCache();
        cc.setMetadata(new ObjectMetaBuilder()
                .withName("gpt")
                .withNamespace("team-a")
                .withGeneration(3L)
                .build());
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setBudget(budget);
        cc.setSpec(spec);
        return cc;
    }

    static NodeStats node(String name, NodeStats.Group... groups) {
        return new NodeStats(name, List.of(groups), null);
    }

    static NodeStats.Group g(
            String ns, String cache, String device, long bytes, long hits, long misses, String lastUse) {
        return new NodeStats.Group(
                ns,
                cache,
                device,
                "nvidia-h100-80gb-hbm3",
                10,
                bytes,
                hits,
                misses,
                lastUse,
                Map.of(),
                NodeStats.Remote.NONE);
    }

    static Condition cond(CompileCacheStatus s, String type) {
        return s.getConditions().stream()
                .filter(c -> c.getType().equals(type))
                .findFirst()
                .orElseThrow();
    }

    @Test
    void aggregate_sumsOnlyThisCachesGroups_acrossNodes() {
        CompileCacheStatus s = StatusAggregator.aggregate(
                cc("1Gi"),
                List.of(
                        node(
                                "n1",
                                g("team-a", "gpt", "cuda-9.0", 300L << 20, 9, 1, "2026-11-26T10:00:00Z"),
                                g("team-b", "gpt", "cuda-9.0", 5L << 30, 0, 5, null)),
                        node("n2", g("team-a", "gpt", "cuda-8.0", 100L << 20, 7, 3, "2026-11-26T11:00:00Z")),
                        node("n3")),
                3,
                Instant.parse("2026-11-26T12:00:00Z"));
        assertThat(s.getNodes()).isEqualTo(2);
        assertThat(s.getUsedBytes()).isEqualTo(400L << 20);
        assertThat(s.getUsed()).isEqualTo("400.0Mi");
        assertThat(s.getHitRatio()).isEqualTo("80%");
        assertThat(s.getLastUsed()).isEqualTo("2026-11-26T11:00:00Z");
        assertThat(s.getDeviceClasses())
                .containsExactly("cuda-8.0/nvidia-h100-80gb-hbm3", "cuda-9.0/nvidia-h100-80gb-hbm3");
        assertThat(s.getObservedGeneration()).isEqualTo(3L);
        assertThat(cond(s, "Ready").getStatus()).isEqualTo("True");
        assertThat(cond(s, "WithinBudget").getReason()).isEqualTo("WithinBudget");
    }

    /** The agents' /v1/stats JSON, parsed as the operator does, summed into status.podStarts. */
    @Test
    void aggregate_podStartsByOutcome_summedOverNodes_fromTheAgentsJson() throws Exception {
        String n1 =
                "{\"groups\":[{\"namespace\":\"team-a\",\"cache\":\"gpt\",\"device\":\"cuda-9.0\",\"product\":\"p\","
                        + "\"entries\":3,\"bytes\":10,\"hits\":2,\"misses\":1,\"runs\":{\"warm\":4,\"keyChanged\":1},\"lastUse\":null}]}";
        String n2 =
                "{\"groups\":[{\"namespace\":\"team-a\",\"cache\":\"gpt\",\"device\":\"cuda-8.0\",\"product\":\"p\","
                        + "\"entries\":1,\"bytes\":5,\"hits\":0,\"misses\":1,\"runs\":{\"warm\":1,\"nothingPublished\":2,\"someday\":7},"
                        + "\"lastUse\":null},{\"namespace\":\"team-b\",\"cache\":\"gpt\",\"device\":\"cuda-8.0\",\"product\":\"p\","
                        + "\"entries\":1,\"bytes\":5,\"hits\":0,\"misses\":1,\"runs\":{\"noView\":9},\"lastUse\":null}]}";
        CompileCacheStatus s = StatusAggregator.aggregate(
                cc("1Gi"),
                List.of(
                        io.mithril.operator.agents.AgentDirectory.parse("n1", n1),
                        io.mithril.operator.agents.AgentDirectory.parse("n2", n2)),
                2,
                Instant.now());
        assertThat(s.getPodStarts().counts())
                .containsExactly(
                        java.util.Map.entry("keyChanged", 1L),
                        java.util.Map.entry("nothingPublished", 2L),
                        java.util.Map.entry("warm", 5L));
        CompileCacheStatus none = StatusAggregator.aggregate(
                cc("1Gi"), List.of(node("n1", g("team-a", "gpt", "cuda-9.0", 1, 0, 0, null))), 1, Instant.now());
        assertThat(none.getPodStarts()).as("no runs counted yet: left out").isNull();
    }

    /** status.remote: the agents' remote figures of this cache summed over nodes (left out while there are none). */
    @Test
    void aggregate_remoteHitsAndUploads_summedOverNodes_fromTheAgentsJson() throws Exception {
        String n1 =
                "{\"groups\":[{\"namespace\":\"team-a\",\"cache\":\"gpt\",\"device\":\"cuda-9.0\",\"product\":\"p\","
                        + "\"entries\":3,\"bytes\":10,\"hits\":2,\"misses\":1,\"runs\":{},\"lastUse\":null,"
                        + "\"remote\":{\"fetched\":0,\"fetchedBytes\":0,\"uploaded\":3,\"uploadedBytes\":900}}]}";
        String n2 =
                "{\"groups\":[{\"namespace\":\"team-a\",\"cache\":\"gpt\",\"device\":\"cuda-9.0\",\"product\":\"p\","
                        + "\"entries\":3,\"bytes\":10,\"hits\":3,\"misses\":0,\"runs\":{},\"lastUse\":null,"
                        + "\"remote\":{\"fetched\":3,\"fetchedBytes\":900,\"uploaded\":0,\"uploadedBytes\":0}},"
                        + "{\"namespace\":\"team-b\",\"cache\":\"gpt\",\"device\":\"cuda-9.0\",\"product\":\"p\",\"entries\":1,"
                        + "\"bytes\":1,\"hits\":0,\"misses\":0,\"remote\":{\"fetched\":50,\"fetchedBytes\":1,\"uploaded\":1,\"uploadedBytes\":1}}]}";
        CompileCacheStatus s = StatusAggregator.aggregate(
                cc("1Gi"),
                List.of(
                        io.mithril.operator.agents.AgentDirectory.parse("n1", n1),
                        io.mithril.operator.agents.AgentDirectory.parse("n2", n2)),
                2,
                Instant.now());
        assertThat(s.getRemote().getHits()).isEqualTo(3);
        assertThat(s.getRemote().getFetchedBytes()).isEqualTo(900);
        assertThat(s.getRemote().getUploadedEntries()).isEqualTo(3);
        assertThat(s.getRemote().getUploadedBytes()).isEqualTo(900);
        CompileCacheStatus none = StatusAggregator.aggregate(
                cc("1Gi"), List.of(node("n1", g("team-a", "gpt", "cuda-9.0", 1, 0, 0, null))), 1, Instant.now());
        assertThat(none.getRemote())
                .as("an agent without a remote (an older one, too): left out")
                .isNull();
    }

    /** status.remote.stored*: what the newest retention pass (whichever agent ran it) found this cache holding remotely. */
    @Test
    void aggregate_remoteHoldings_fromTheNewestRetentionPassOfAnyAgent() throws Exception {
        String older = "{\"groups\":[],\"remoteHeld\":{\"at\":\"2026-12-01T10:00:00Z\",\"caches\":["
                + "{\"namespace\":\"team-a\",\"cache\":\"gpt\",\"entries\":9,\"bytes\":9000}]}}";
        String newer = "{\"groups\":[],\"remoteHeld\":{\"at\":\"2026-12-01T11:00:00Z\",\"caches\":["
                + "{\"namespace\":\"team-b\",\"cache\":\"gpt\",\"entries\":1,\"bytes\":1},"
                + "{\"namespace\":\"team-a\",\"cache\":\"gpt\",\"entries\":4,\"bytes\":4000}]}}";
        String none = "{\"groups\":[]}";
        CompileCacheStatus s = StatusAggregator.aggregate(
                cc("1Gi"),
                List.of(
                        io.mithril.operator.agents.AgentDirectory.parse("n1", newer),
                        io.mithril.operator.agents.AgentDirectory.parse("n2", older),
                        io.mithril.operator.agents.AgentDirectory.parse("n3", none)),
                3,
                Instant.now());
        assertThat(s.getRemote().getStoredEntries()).isEqualTo(4);
        assertThat(s.getRemote().getStoredBytes()).isEqualTo(4000);
        assertThat(s.getRemote().getStoredAt()).isEqualTo("2026-12-01T11:00:00Z");
        CompileCacheStatus unmeasured = StatusAggregator.aggregate(
                cc("1Gi"), List.of(io.mithril.operator.agents.AgentDirectory.parse("n3", none)), 1, Instant.now());
        assertThat(unmeasured.getRemote())
                .as("no pass ran, nothing moved: left out")
                .isNull();
    }

    @Test
    void aggregate_noAgents_notReadyWithAReasonThatSaysWhy_andOverBudgetIsReported() {
        CompileCacheStatus none = StatusAggregator.aggregate(cc("1Gi"), List.of(), 4, Instant.now());
        assertThat(cond(none, "Ready").getStatus()).isEqualTo("False");
        assertThat(cond(none, "Ready").getReason()).isEqualTo("NoAgentAnswered");
        assertThat(none.getHitRatio()).isEqualTo("-");
        CompileCacheStatus over = StatusAggregator.aggregate(
                cc("100Mi"),
                List.of(node("n1", g("team-a", "gpt", "cuda-9.0", 300L << 20, 1, 1, null))),
                1,
                Instant.now());
        assertThat(cond(over, "WithinBudget").getStatus()).isEqualTo("False");
        assertThat(cond(over, "WithinBudget").getReason()).isEqualTo("OverBudget");
    }

    @Test
    void lastTransitionTime_isKeptWhileTheStatusDoesNotChange_soAnUnchangedCacheWritesNothing() {
        CompileCache c = cc("1Gi");
        List<NodeStats> r = List.of(node("n1", g("team-a", "gpt", "cuda-9.0", 1L << 20, 1, 0, null)));
        CompileCacheStatus first = StatusAggregator.aggregate(c, r, 1, Instant.parse("2026-11-26T10:00:00Z"));
        c.setStatus(first);
        CompileCacheStatus second = StatusAggregator.aggregate(c, r, 1, Instant.parse("2026-11-26T10:05:00Z"));
        assertThat(cond(second, "Ready").getLastTransitionTime()).isEqualTo("2026-11-26T10:00:00Z");
        assertThat(StatusAggregator.same(first, second)).isTrue();
        c.setStatus(second);
        CompileCacheStatus down = StatusAggregator.aggregate(c, List.of(), 1, Instant.parse("2026-11-26T10:10:00Z"));
        assertThat(cond(down, "Ready").getLastTransitionTime()).isEqualTo("2026-11-26T10:10:00Z");
        assertThat(StatusAggregator.same(second, down)).isFalse();
    }

    /** The operator reports a budget as the bytes the agent enforces: both read it with the shared rule, default included. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"20Gi", "1.5Mi", "500M", "1", "0.9Ki", "3T"})
    void budgetBytes_isTheSharedRulesReading(String budget) {
        assertThat(StatusAggregator.budgetBytes(cc(budget))).isEqualTo(io.mithril.api.v1alpha1.Sizes.budget(budget));
        assertThat(SpecCheck.problems(cc(budget).getSpec())).isEmpty();
    }

    @Test
    void budgetBytes_withoutBudget_isTheDefault_andATinyOneIsInvalid() {
        assertThat(StatusAggregator.budgetBytes(cc(null))).isEqualTo(20L << 30);
        assertThat(SpecCheck.problems(cc("0.0001K").getSpec()))
                .singleElement()
                .asString()
                .contains("at least one byte");
        assertThat(SpecCheck.problems(cc("lots").getSpec()))
                .singleElement()
                .asString()
                .contains("not a size")
                .contains("lots");
    }
}
