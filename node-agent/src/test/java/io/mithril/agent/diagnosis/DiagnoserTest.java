package io.mithril.agent.diagnosis;

import static io.mithril.agent.store.StoreFixture.A100;
import static io.mithril.agent.store.StoreFixture.H100;
import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.Fixture;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFixture;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each case of "why did I miss", from what a run was published, read and compiled, on a real store. */
class DiagnoserTest {

    @TempDir
    Path tmp;

    NodeStore store;
    Diagnoser diagnoser;

    @BeforeEach
    void open() throws Exception {
        store = NodeStore.open(Files.createDirectories(tmp.resolve("store")), StoreConfig.defaults());
        diagnoser = new Diagnoser(store);
    }

    @AfterEach
    void close() throws Exception {
        store.close();
    }

    EntryKey commit(GroupId g, String name, String path, String content) throws Exception {
        byte[] b = content.getBytes(StandardCharsets.UTF_8);
        var w = store.put(new ByteArrayInputStream(b), b.length);
        return store.commit(new EntryKey(g, name), List.of(new EntryFile(path, w.address(), w.size(), false)), "test")
                .key();
    }

    @Test
    void nothingPublished_namesTheDeviceClassesTheCacheHasEntriesFor() throws Exception {
        StoreFixture.commit(store, A100, "inductor/ab/cabc.py", "x".getBytes());
        var d = diagnoser.diagnose(H100, List.of(), List.of(), List.of("inductor/cd/ccd.py"));
        assertThat(d.outcome()).isEqualTo(Outcome.NOTHING_PUBLISHED);
        assertThat(d.line())
                .contains("only for cuda-8.0/" + A100.product().slug() + " (1 entries)")
                .contains("not for cuda-9.0/" + H100.product().slug())
                .contains("compiled 1 entries");
    }

    @Test
    void nothingPublished_emptyGroup_saysItIsTheFirstRun() {
        var d = diagnoser.diagnose(H100, List.of(), List.of(), List.of());
        assertThat(d.outcome()).isEqualTo(Outcome.NOTHING_PUBLISHED);
        assertThat(d.line()).contains("is empty on this node").doesNotContain("compiled");
    }

    @Test
    void publishedButNothingReadOrCompiled_isUnused() throws Exception {
        EntryKey k = commit(H100, "inductor/ab/cabc.py", "cabc.py", "code");
        var d = diagnoser.diagnose(H100, List.of(k), List.of(), List.of());
        assertThat(d.outcome()).isEqualTo(Outcome.UNUSED);
        assertThat(d.outcome().cold()).isFalse();
    }

    @Test
    void readAndNothingCompiled_isWarm() throws Exception {
        EntryKey a = commit(H100, "inductor/ab/cabc.py", "cabc.py", "a");
        EntryKey b = commit(H100, "inductor/cd/ccd.py", "ccd.py", "b");
        var d = diagnoser.diagnose(H100, List.of(a, b), Set.of(a), List.of());
        assertThat(d.outcome()).isEqualTo(Outcome.WARM);
        assertThat(d.line()).isEqualTo("warm: read 1 of 2 published entries, compiled nothing");
    }

    /**
     * vLLM writes {@code cache_key_factors.json} once per cache folder ({@code vllm/compilation/backends.py}):
     * a changed attention backend and model config give a new hash folder and a new file.
     */
    @Test
    void keyChanged_vllm_namesTheFactorsThatDiffer() throws Exception {
        String factors = """
                {
                  "code_hash": "4f1c",
                  "compiler_hash": "77aa",
                  "config_hash": "%s",
                  "env": {"VLLM_ATTENTION_BACKEND": "%s", "VLLM_USE_V1": true}
                }""";
        EntryKey was = commit(
                H100,
                "vllm/torch_compile_cache/1a2b3c4d5e/rank_0_0/",
                "backbone/cache_key_factors.json",
                factors.formatted("c0ffee", "FLASH_ATTN"));
        commit(
                H100,
                "vllm/torch_compile_cache/9f8e7d6c5b/rank_0_0/",
                "backbone/cache_key_factors.json",
                factors.formatted("beef00", "FLASHINFER"));
        var d = diagnoser.diagnose(
                H100, List.of(was), List.of(), List.of("vllm/torch_compile_cache/9f8e7d6c5b/rank_0_0/"));
        assertThat(d.outcome()).isEqualTo(Outcome.KEY_CHANGED);
        assertThat(d.line())
                .contains("vLLM's cache_key_factors.json differs in: config_hash (c0ffee -> beef00), "
                        + "env.VLLM_ATTENTION_BACKEND (FLASH_ATTN -> FLASHINFER)")
                .doesNotContain("code_hash")
                .doesNotContain("VLLM_USE_V1");
    }

    /** The real fixture's entries, made by torch 2.11 and Triton 3.6 on an H100, against the same made by older ones. */
    @Test
    void keyChanged_inductor_namesTheTorchAndTritonVersions_readFromTheRealEntries() throws Exception {
        Path cache = Fixture.extract(tmp.resolve("fixture"));
        Path graph;
        Path kernel;
        try (Stream<Path> s = Files.walk(cache.resolve("inductor/fxgraph"))) {
            graph = s.filter(Files::isRegularFile).sorted().findFirst().orElseThrow();
        }
        try (Stream<Path> s = Files.walk(cache.resolve("triton"))) {
            kernel = s.filter(p -> p.toString().endsWith(".json")
                            && !p.getFileName().toString().startsWith("__grp__"))
                    .sorted()
                    .findFirst()
                    .orElseThrow();
        }
        String graphText = Files.readString(graph, StandardCharsets.ISO_8859_1);
        String kernelText = Files.readString(kernel);
        assertThat(graphText).contains("# torch version: 2.11.0+cu130");
        EntryKey oldGraph =
                commit(H100, "inductor/fxgraph/aa/faaa/", "g", graphText.replace("2.11.0+cu130", "2.10.0+cu128"));
        EntryKey oldKernel = commit(H100, "triton/OLDKERNEL/", "k.json", kernelText.replace("\"3.6.0\"", "\"3.5.1\""));
        List<String> fresh = new ArrayList<>();
        fresh.add(commitFile(H100, "inductor/fxgraph/bb/fbbb/", "g", graph));
        fresh.add(commitFile(H100, "triton/NEWKERNEL/", "k.json", kernel));
        var d = diagnoser.diagnose(H100, List.of(oldGraph, oldKernel), List.of(), fresh);
        assertThat(d.outcome()).isEqualTo(Outcome.KEY_CHANGED);
        assertThat(d.line()).contains("torch 2.10.0+cu128 -> 2.11.0+cu130").contains("triton 3.5.1 -> 3.6.0");

        // same versions on both sides: it says so, and that the key changed for another reason
        EntryKey sameGraph = new EntryKey(H100, commitFile(H100, "inductor/fxgraph/cc/fccc/", "g", graph));
        var same = diagnoser.diagnose(H100, List.of(sameGraph), List.of(), List.of(fresh.get(0)));
        assertThat(same.line()).contains("the framework computed other keys").contains("same torch 2.11.0+cu130");
    }

    String commitFile(GroupId g, String name, String path, Path file) throws Exception {
        var w = store.putFile(file);
        return store.commit(new EntryKey(g, name), List.of(new EntryFile(path, w.address(), w.size(), false)), "test")
                .key()
                .name();
    }

    @Test
    void readThenCompiled_isRecompiled_andNamesWhatItRewrote() throws Exception {
        EntryKey index = commit(
                H100,
                "vllm/torch_compile_cache/1a2b3c4d5e/rank_0_0/",
                "backbone/vllm_compile_cache.py",
                "{(1, 8): 'a'}");
        commit(
                H100,
                "vllm/torch_compile_cache/1a2b3c4d5e/rank_0_0/",
                "backbone/vllm_compile_cache.py",
                "{(1, 8): 'a', (9, 16): 'b'}");
        var d = diagnoser.diagnose(H100, List.of(index), Set.of(index), List.of(index.name()));
        assertThat(d.outcome()).isEqualTo(Outcome.RECOMPILED);
        assertThat(d.line())
                .contains("read 1 of 1 published entries, then compiled 1 more, rewriting 1 it had read ("
                        + index.name() + ")");
    }

    @Test
    void torchVersionHeader_isFoundAcrossReadBoundaries() throws Exception {
        for (int pad : new int[] {0, 65536 - 5, 65536 - 17, 65536 + 3, 3 * 65536 - 20}) {
            byte[] head = new byte[pad];
            byte[] text = "# torch version: 2.11.0+cu130\n".getBytes(StandardCharsets.US_ASCII);
            byte[] all = new byte[pad + text.length + 10];
            System.arraycopy(head, 0, all, 0, pad);
            System.arraycopy(text, 0, all, pad, text.length);
            assertThat(Versions.torchVersion(new ByteArrayInputStream(all)))
                    .as("at %d", pad)
                    .isEqualTo("2.11.0+cu130");
        }
        assertThat(Versions.torchVersion(new ByteArrayInputStream(new byte[200_000])))
                .isNull();
    }

    @Test
    void outcomeKeys_areCamelCase() {
        assertThat(Outcome.NOTHING_PUBLISHED.key()).isEqualTo("nothingPublished");
        assertThat(Outcome.WARM.key()).isEqualTo("warm");
    }
}
