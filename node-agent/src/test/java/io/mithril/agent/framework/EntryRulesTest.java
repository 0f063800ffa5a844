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
        long fx = filesPerEntry.keySet().stream().filter(e -> e.startsWith("inductor/fxgraph/")).count();
        long aot = filesPerEntry.keySet().stream().filter(e -> e.startsWith("inductor/aotautograd/")).count();
        long tritonFolders = filesPerEntry.keySet().stream().filter(e -> e.startsWith("triton/") && e.endsWith("/")).count();
        assertThat(fx).isEqualTo(2);
        assertThat(aot).isEqualTo(1);
        assertThat(tritonFolders).isEqualTo(Fixture.manifestPaths().stream().filter(p -> p.startsWith("triton/"))
                .map(p -> p.split("/")[1]).distinct().count());
        assertThat(filesPerEntry.entrySet().stream().filter(e -> e.getKey().startsWith("triton/"))
                .filter(e -> e.getValue() == 8).count()).as("kernel folders of 8 files").isEqualTo(tritonFolders - 1);
        assertThat(mutable).allMatch(e -> e.endsWith(".best_config"));
        assertThat(mutable).isNotEmpty();
    }

    @Test
    void rules_forEachFramework() {
        assertThat(EntryRules.classify("inductor/fxgraph/ab/fabcdef/entry").entryName()).isEqualTo("inductor/fxgraph/ab/fabcdef/");
        assertThat(EntryRules.classify("inductor/aotautograd/akey/e1").pathInEntry()).isEqualTo("e1");
        assertThat(EntryRules.classify("inductor/triton/0/KEY/k.cubin").entryName()).isEqualTo("inductor/triton/0/KEY/");
        assertThat(EntryRules.classify("inductor/ab/cabc.py")).extracting(EntryRules.Unit::entryName, EntryRules.Unit::mutable)
                .containsExactly("inductor/ab/cabc.py", false);
        assertThat(EntryRules.classify("inductor/ab/f00.best_config").mutable()).isTrue();
        assertThat(EntryRules.classify("inductor/cache/3f2e").mutable()).isTrue();
        assertThat(EntryRules.classify("inductor/dynamo/code_state_x.pkl").mutable()).isTrue();
        assertThat(EntryRules.classify("triton/KEY/k.json").entryName()).isEqualTo("triton/KEY/");
        assertThat(EntryRules.classify("vllm/torch_compile_cache/0123456789/rank_0_0/backbone/x.py").entryName())
                .isEqualTo("vllm/torch_compile_cache/0123456789/");
        assertThat(EntryRules.classify("sglang/torch_compile_cache/h/rank_0_0/t/y").entryName()).isEqualTo("sglang/torch_compile_cache/h/");
        assertThat(EntryRules.classify("vllm/modelinfos/m.json").entryName()).isEqualTo("vllm/modelinfos/m.json");
        assertThat(EntryRules.classify("cuda/index").mutable()).isTrue();
        assertThat(EntryRules.classify("cuda/a/b/c1").mutable()).isFalse();
        assertThat(EntryRules.classify("other/x")).isNull();
        assertThat(EntryRules.classify("toplevel")).isNull();
    }

    @Test
    void transientNames_areNeverEntries() {
        for (String p : List.of("inductor/ab/.1234.5678.tmp", "triton/tmp.pid_12_abc/k.cubin", "inductor/locks/x.lock",
                "inductor/ab/c.py.lock", ".mithril-ready", "vllm/torch_compile_cache/h/.x", "inductor/ab/x.tmp")) {
            assertThat(EntryRules.classify(p)).as(p).isNull();
        }
    }

    @Test
    void tritonFolder_jsonWithoutCubin_isIncomplete() {
        assertThat(Completeness.tritonFolder(Map.of("k.json", new byte[0], "k.ttir", new byte[0]))).contains(".cubin");
        Map<String, byte[]> whole = new HashMap<>();
        whole.put("k.json", null);
        whole.put("k.cubin", null);
        whole.put("__grp__k.json", "{\"child_paths\": {\"k.cubin\": \"/x/KEY/k.cubin\", \"k.json\": \"/x/KEY/k.json\"}}".getBytes());
        assertThat(Completeness.tritonFolder(whole)).isNull();
        whole.put("__grp__k.json", "{\"child_paths\": {\"k.ptx\": \"/x/KEY/k.ptx\"}}".getBytes());
        assertThat(Completeness.tritonFolder(whole)).contains("k.ptx");
        assertThat(Completeness.tritonFolder(Map.of("cuda_utils.cpython-312-x86_64-linux-gnu.so", new byte[0]))).isNull();
    }

    @Test
    void frameworkList_parses() {
        assertThat(Framework.parseList("inductor, triton")).containsExactly(Framework.INDUCTOR, Framework.TRITON);
        assertThat(Framework.parseList("all")).hasSize(5);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Framework.parseList("jax"))
                .hasMessageContaining("unknown framework 'jax'");
    }
}
