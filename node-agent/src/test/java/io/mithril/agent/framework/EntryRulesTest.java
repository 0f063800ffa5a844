package io.mithril.agent.framework;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.Fixture;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EntryRulesTest {

    @Test
    void fixtureTree_groupsIntoFrameworkEntries() throws Exception {
        Map<String, Integer> filesPerEntry = new HashMap<>();
        Set<String> mutable = new HashSet<>();
        for (String p : Fixture.manifestPaths()) {
            EntryRules.Unit u = EntryRules.classify(p);
            assertThat(u).as(p).isNotNull();
            filesPerEntry.merge(u.entryName(), 1, Integer::sum);
            if (u.mutable()) {
                mutable.add(u.entryName());
            }
        }
        long fx = filesPerEntry.keySet().stream()
                .filter(e -> e.startsWith("inductor/fxgraph/"))
                .count();
        long aot = filesPerEntry.keySet().stream()
                .filter(e -> e.startsWith("inductor/aotautograd/"))
                .count();
        long tritonFolders = filesPerEntry.keySet().stream()
                .filter(e -> e.startsWith("triton/") && e.endsWith("/"))
                .count();
        assertThat(fx).isEqualTo(2);
        assertThat(aot).isEqualTo(1);
        assertThat(tritonFolders)
                .isEqualTo(Fixture.manifestPaths().stream()
                        .filter(p -> p.startsWith("triton/"))
                        .map(p -> p.split("/")[1])
                        .distinct()
                        .count());
        assertThat(filesPerEntry.entrySet().stream()
                        .filter(e -> e.getKey().startsWith("triton/"))
                        .filter(e -> e.getValue() == 8)
                        .count())
                .as("kernel folders of 8 files")
                .isEqualTo(tritonFolders - 1);
        assertThat(mutable).allMatch(e -> e.endsWith(".best_config"));
        assertThat(mutable).isNotEmpty();
    }

    @Test
    void rules_forEachFramework() {
        assertThat(EntryRules.classify("inductor/fxgraph/ab/fabcdef/entry").entryName())
                .isEqualTo("inductor/fxgraph/ab/fabcdef/");
        assertThat(EntryRules.classify("inductor/aotautograd/akey/e1").pathInEntry())
                .isEqualTo("e1");
        assertThat(EntryRules.classify("inductor/triton/0/KEY/k.cubin").entryName())
                .isEqualTo("inductor/triton/0/KEY/");
        assertThat(EntryRules.classify("inductor/ab/cabc.py"))
                .extracting(EntryRules.Unit::entryName, EntryRules.Unit::mutable)
                .containsExactly("inductor/ab/cabc.py", false);
        assertThat(EntryRules.classify("inductor/ab/f00.best_config").mutable()).isTrue();
        assertThat(EntryRules.classify("inductor/cache/3f2e").mutable()).isTrue();
        assertThat(EntryRules.classify("inductor/dynamo/code_state_x.pkl").mutable())
                .isTrue();
        assertThat(EntryRules.classify("triton/KEY/k.json").entryName()).isEqualTo("triton/KEY/");
        assertThat(EntryRules.classify("vllm/modelinfos/m.json").entryName()).isEqualTo("vllm/modelinfos/m.json");
        assertThat(EntryRules.classify("cuda/driver-550.54.15/index").mutable()).isTrue();
        assertThat(EntryRules.classify("cuda/driver-550.54.15/a/b/c1").mutable())
                .isFalse();
        // of no known driver (the agent's cuda/current link is walked past; a folder put there instead is not taken)
        assertThat(EntryRules.classify("cuda/index")).isNull();
        assertThat(EntryRules.classify("cuda/a/b/c1")).isNull();
        assertThat(EntryRules.classify("cuda/current/a/b/c1")).isNull();
        assertThat(EntryRules.classify("other/x")).isNull();
        assertThat(EntryRules.classify("toplevel")).isNull();
    }

    @Test
    void transientNames_areNeverEntries() {
        for (String p : List.of(
                "inductor/ab/.1234.5678.tmp",
                "triton/tmp.pid_12_abc/k.cubin",
                "inductor/locks/x.lock",
                "inductor/ab/c.py.lock",
                ".mithril-ready",
                "vllm/torch_compile_cache/h/.x",
                "inductor/ab/x.tmp")) {
            assertThat(EntryRules.classify(p)).as(p).isNull();
        }
    }

    /** Triton's {@code python/triton/runtime/cache.py}: children first (each temp + os.replace), the group file last. */
    @Test
    void tritonFolder_completeOnlyWithItsGroupFileAndEveryChildItNames() {
        Map<String, byte[]> folder = new HashMap<>();
        folder.put("k.source", null);
        folder.put("k.json", null);
        folder.put("k.cubin", null);
        assertThat(Completeness.tritonFolder(folder))
                .as("interrupted before put_group")
                .contains("no group file");
        folder.put("__grp__k.json", Fixture.tritonGroup("k.source", "k.json", "k.cubin"));
        assertThat(Completeness.tritonFolder(folder)).isNull();
        folder.remove("k.cubin");
        assertThat(Completeness.tritonFolder(folder))
                .as("group naming a missing child: Triton's KeyError")
                .contains("k.cubin");
        folder.put("k.cubin", null);
        folder.put("__grp__k.json", "{\"child_paths\": {\"k.cub".getBytes());
        assertThat(Completeness.tritonFolder(folder)).as("torn group file").isNotNull();
    }

    /** The autotuner's disk cache ({@code runtime/autotuner.py}) and the driver's launcher: one file, no group. */
    @Test
    void tritonFolder_autotuneOrLauncherFolder_isCompleteOnItsOwn() {
        assertThat(Completeness.tritonFolder(Map.of("matmul_kernel.autotune.json", new byte[0])))
                .isNull();
        assertThat(Completeness.tritonFolder(Map.of("cuda_utils.cpython-312-x86_64-linux-gnu.so", new byte[0])))
                .isNull();
        assertThat(Completeness.tritonFolder(Map.of("k.json", new byte[0], "k.ttir", new byte[0])))
                .isNotNull();
    }

    /**
     * vLLM {@code vllm/compilation/decorators.py} (AOT: {@code torch_compile_cache/torch_aot_compile/<sha256>/rank_<r>_<dp>/model},
     * {@code <sha256>/inductor_cache/} shared by the ranks as TORCHINDUCTOR_CACHE_DIR) and {@code backends.py} (JIT:
     * {@code torch_compile_cache/<hash>/rank_<r>_<dp>/<prefix>/}); SGLang {@code python/sglang/srt/compilation/backend.py}.
     */
    @Test
    void vllmAndSglang_oneEntryPerRankFolder_andAotInductorCacheByInductorRules() {
        String aot = "vllm/torch_compile_cache/torch_aot_compile/" + "a".repeat(64) + "/";
        assertThat(EntryRules.classify(aot + "rank_0_0/model").entryName()).isEqualTo(aot + "rank_0_0/");
        assertThat(EntryRules.classify(aot + "rank_1_0/model").entryName()).isEqualTo(aot + "rank_1_0/");
        EntryRules.Unit fx = EntryRules.classify(aot + "inductor_cache/fxgraph/ab/fabc/entry");
        assertThat(fx.entryName()).isEqualTo(aot + "inductor_cache/fxgraph/ab/fabc/");
        assertThat(fx.atomic()).isTrue();
        assertThat(EntryRules.classify(aot + "inductor_cache/triton/0/KEY/k.cubin")
                        .tritonFolder())
                .isTrue();
        assertThat(EntryRules.classify(aot + "inductor_cache/ab/x.best_config").mutable())
                .isTrue();
        assertThat(EntryRules.classify(aot + "rank_0_0/model").atomic()).isFalse();
        assertThat(EntryRules.classify("vllm/torch_aot_compile/h/rank_0_0/model")
                        .entryName())
                .isEqualTo("vllm/torch_aot_compile/h/rank_0_0/");

        EntryRules.Unit jit =
                EntryRules.classify("vllm/torch_compile_cache/0123456789/rank_0_1/backbone/vllm_compile_cache.py");
        assertThat(jit.entryName()).isEqualTo("vllm/torch_compile_cache/0123456789/rank_0_1/");
        assertThat(jit.pathInEntry()).isEqualTo("backbone/vllm_compile_cache.py");
        assertThat(jit.atomic()).as("the index is rewritten in place").isFalse();
        assertThat(EntryRules.classify("vllm/torch_compile_cache/0123456789/rank_0_1/inductor_cache/fxgraph/ab/f/e")
                        .entryName())
                .isEqualTo("vllm/torch_compile_cache/0123456789/rank_0_1/");
        assertThat(EntryRules.classify("sglang/torch_compile_cache/h/rank_0_0/backbone/sglang_compile_cache.py")
                        .entryName())
                .isEqualTo("sglang/torch_compile_cache/h/rank_0_0/");
        assertThat(EntryRules.classify(
                        "sglang/torch_compile_cache/h/rank_0_0/backbone/computation_graph_1764583801.2345.py"))
                .as("a debug dump under a new name at every start")
                .isNull();
        assertThat(EntryRules.classify("vllm/torch_compile_cache/h/rank_0_0/backbone/computation_graph.py"))
                .isNotNull();
    }

    /** DeepGEMM {@code csrc/jit/compiler.hpp}: compiled into {@code tmp/<uuid>/}, then the folder renamed to {@code cache/kernel.<name>.<hash>/}. */
    @Test
    void deepGemm_kernelFolderIsTheEntry_stagingIsNever() {
        for (String fw : List.of("vllm", "sglang")) {
            EntryRules.Unit k = EntryRules.classify(fw + "/deep_gemm/cache/kernel.fp8_gemm.0f1e2d/kernel.cubin");
            assertThat(k.entryName()).isEqualTo(fw + "/deep_gemm/cache/kernel.fp8_gemm.0f1e2d/");
            assertThat(k.atomic()).isTrue();
            assertThat(EntryRules.classify(fw + "/deep_gemm/cache/kernel.fp8_gemm.0f1e2d/kernel.cu")
                            .entryName())
                    .isEqualTo(k.entryName());
            assertThat(EntryRules.classify(fw + "/deep_gemm/tmp/3b1f-uuid/kernel.cubin"))
                    .isNull();
        }
    }

    /** FlashInfer {@code flashinfer/jit/env.py} and {@code jit/cpp_ext.py}: ninja builds each op in {@code cached_ops/<op>/}. */
    @Test
    void flashinfer_opFolderIsTheEntry_withNinjasOwnFiles() {
        String op = "flashinfer/.cache/flashinfer/90a/cached_ops/batch_prefill_bf16/";
        for (String f :
                List.of(".ninja_log", ".ninja_deps", "build.ninja", "batch_prefill.cuda.o", "batch_prefill_bf16.so")) {
            assertThat(EntryRules.classify(op + f))
                    .as(f)
                    .extracting(EntryRules.Unit::entryName)
                    .isEqualTo(op);
        }
        assertThat(EntryRules.classify("flashinfer/.cache/flashinfer/90a/generated/batch_prefill_bf16/config.inc")
                        .entryName())
                .isEqualTo("flashinfer/.cache/flashinfer/90a/generated/batch_prefill_bf16/");
        assertThat(EntryRules.skipsFolder("flashinfer/.cache")).isFalse();
        assertThat(EntryRules.skipsFolder("inductor/.cache")).isTrue();
        assertThat(EntryRules.classify(op + ".x.tmp")).isNull();
        assertThat(EntryRules.classify("inductor/ab/.ninja_log")).isNull();
        assertThat(EntryRules.keepsTimes(op + "build.ninja")).isTrue();
    }

    /** A ninja log v5 line: start, end, mtime (ns), output, command hash. */
    @Test
    void ninjaLog_outputsGetTheirLoggedTime_otherFilesAnOlderOne() {
        String op = "flashinfer/.cache/flashinfer/90a/cached_ops/op/";
        byte[] log =
                ("# ninja log v5\n0\t250\t1796120092971444515\t/v/flashinfer/.cache/flashinfer/90a/cached_ops/op/a.o\tceb4\n"
                                + "250\t470\t1796120093201359848\t/v/flashinfer/.cache/flashinfer/90a/cached_ops/op/op.so\tdcca\n")
                        .getBytes();
        Map<String, java.nio.file.attribute.FileTime> t =
                NinjaLog.publishTimes(op, List.of("a.o", "op.so", "build.ninja", ".ninja_log"), log);
        assertThat(t.get("a.o").to(java.util.concurrent.TimeUnit.NANOSECONDS)).isEqualTo(1796120092971444515L);
        assertThat(t.get("op.so").to(java.util.concurrent.TimeUnit.NANOSECONDS)).isEqualTo(1796120093201359848L);
        assertThat(t.get("build.ninja")).isEqualTo(NinjaLog.INPUT_TIME);
        assertThat(NinjaLog.publishTimes(op, List.of("a.o"), null).get("a.o")).isEqualTo(NinjaLog.INPUT_TIME);
    }

    @Test
    void frameworkList_parses() {
        assertThat(Framework.parseList("inductor, triton")).containsExactly(Framework.INDUCTOR, Framework.TRITON);
        assertThat(Framework.parseList("all")).hasSize(Framework.values().length);
        assertThat(Framework.parseList("vllm"))
                .as("vLLM's own kernels and compiles need these too")
                .containsExactly(Framework.INDUCTOR, Framework.TRITON, Framework.VLLM);
        assertThat(Framework.parseList("sglang,cuda"))
                .contains(Framework.INDUCTOR, Framework.TRITON, Framework.SGLANG, Framework.CUDA);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Framework.parseList("jax"))
                .hasMessageContaining("unknown framework 'jax'");
    }
}
