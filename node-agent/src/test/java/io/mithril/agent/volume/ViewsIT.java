package io.mithril.agent.volume;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.Fixture;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.IngestReport;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFixture;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ViewsIT {

    static final Set<Framework> IT = Set.of(Framework.INDUCTOR, Framework.TRITON);

    @TempDir
    Path tmp;

    Path fixture;
    NodeStore store;
    Views views;
    Ingester ingester;

    @BeforeEach
    void setUp() throws Exception {
        fixture = Fixture.extract(tmp.resolve("fx"));
        store = NodeStore.open(Files.createDirectory(tmp.resolve("store")), StoreConfig.defaults());
        views = new Views(store);
        ingester = new Ingester(store, IngestLimits.defaults());
    }

    @AfterEach
    void tearDown() throws Exception {
        ingester.close();
        store.close();
    }

    /** Fills the group the way a cold workload does: an empty view, the fixture written into it, a final ingest. */
    IngestReport seed() throws Exception {
        View v = views.publish(StoreFixture.H100, tmp.resolve("seed"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        copyTree(fixture, v.dir());
        IngestReport r = ingester.ingest(v, "test", true);
        views.unpublish(v);
        return r;
    }

    static void copyTree(Path from, Path to) throws Exception {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path d = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(d);
                } else {
                    Files.copy(p, d);
                }
            }
        }
    }

    @Test
    void publish_materializesEveryFixtureFileByteForByte_thenTheMarker_andRefusesToPublishTwice() throws Exception {
        IngestReport r = seed();
        assertThat(r.refusedTotal()).isZero();
        assertThat(r.filesRead()).isEqualTo(544);
        for (PublishMode mode : PublishMode.values()) {
            Path dir = tmp.resolve("view-" + mode);
            View v = views.publish(StoreFixture.H100, dir, IT, Views.Owner.CURRENT, mode);
            assertThat(Views.isReady(dir)).isTrue();
            assertThat(StoreFixture.filesIn(dir) - 1).isEqualTo(544);
            try (Stream<Path> s = Files.walk(fixture)) {
                for (Path p : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                    Path mine = dir.resolve(fixture.relativize(p).toString());
                    assertThat(Files.mismatch(p, mine)).as(mine.toString()).isEqualTo(-1L);
                }
            }
            assertThat(v.entries()).hasSize(r.entries());
            org.assertj.core.api.Assertions.assertThatThrownBy(
                            () -> views.publish(StoreFixture.H100, dir, IT, Views.Owner.CURRENT, mode))
                    .isInstanceOf(Views.ViewRefusedException.class);
            assertThat(StoreFixture.filesIn(dir) - 1).isEqualTo(544);
            views.unpublish(v);
            assertThat(dir).doesNotExist();
        }
        assertThat(store.verify().clean()).isTrue();
    }

    @Test
    void secondIngest_ofAnUnchangedView_takesNothing() throws Exception {
        seed();
        View v = views.publish(StoreFixture.H100, tmp.resolve("v"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        IngestReport r = ingester.ingest(v, "test", true);
        assertThat(r.entries()).isZero();
        assertThat(r.filesRead()).isZero();
        views.unpublish(v);
    }

    @Test
    void usageProbe_onRelatime_reportsExactlyTheEntriesRead_evenAfterALaterViewRearms() throws Exception {
        assumeRelatime();
        seed();
        View a = views.publish(StoreFixture.H100, tmp.resolve("a"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        Thread.sleep(20);
        String fx = Fixture.warmStartReads().stream()
                .filter(p -> p.startsWith("inductor/fxgraph/"))
                .findFirst()
                .orElseThrow();
        String best = Fixture.warmStartReads().stream()
                .filter(p -> p.endsWith(".best_config"))
                .findFirst()
                .orElseThrow();
        Files.readAllBytes(a.dir().resolve(fx));
        Files.readAllBytes(a.dir().resolve(best));
        View b = views.publish(StoreFixture.H100, tmp.resolve("b"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        Set<EntryKey> readA = views.readEntries(a);
        assertThat(readA)
                .extracting(EntryKey::name)
                .containsExactlyInAnyOrder(fx.substring(0, fx.lastIndexOf('/') + 1), best);
        assertThat(views.readEntries(b))
                .as("b read nothing itself, but shares a's inode for the fxgraph entry")
                .extracting(EntryKey::name)
                .doesNotContain(best);
        views.unpublish(a);
        views.unpublish(b);
    }

    @Test
    void usageProbe_aCopyViewPublishedBesideALinkedOne_isNotTheLinkedOnesUse() throws Exception {
        assumeRelatime();
        seed();
        View linked =
                views.publish(StoreFixture.H100, tmp.resolve("linked"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        Thread.sleep(20);
        View copied =
                views.publish(StoreFixture.H100, tmp.resolve("copied"), IT, Views.Owner.CURRENT, PublishMode.COPY);
        assertThat(views.readEntries(linked))
                .as("copying every blob for the second view read them all")
                .isEmpty();
        views.unpublish(copied);
        views.unpublish(linked);
    }

    @Test
    void usageProbe_aFileTheWorkloadReplaced_isNotAHit_thoughIngestReadIt() throws Exception {
        assumeRelatime();
        seed();
        View v = views.publish(StoreFixture.H100, tmp.resolve("v"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        String fx = Fixture.warmStartReads().stream()
                .filter(p -> p.startsWith("inductor/fxgraph/"))
                .findFirst()
                .orElseThrow();
        Path target = v.dir().resolve(fx);
        Path tmpFile = target.resolveSibling(".replace.tmp");
        Files.write(tmpFile, new byte[] {1, 2, 3}); // a cold workload recompiles it: temp file, rename over
        Files.move(
                tmpFile,
                target,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        Thread.sleep(20);
        assertThat(ingester.ingest(v, "test", true).entries()).isEqualTo(1); // hashing it reads it: atime moves
        assertThat(views.unpublish(v)).as("nothing published was read").isEmpty();
    }

    @Test
    void publish_intoAFolderTheWorkloadAlreadyWroteIn_isRefused_andWritesNothingThroughItsLinks() throws Exception {
        seed();
        Path outside = Files.createDirectory(tmp.resolve("host-etc"));
        Path view = Files.createDirectory(tmp.resolve("planted"));
        Files.createSymbolicLink(
                view.resolve("inductor"), outside); // a workload that started before the agent published
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> views.publish(StoreFixture.H100, view, IT, Views.Owner.ANYONE, PublishMode.COPY))
                .isInstanceOf(Views.ViewRefusedException.class)
                .hasMessageContaining("not empty");
        try (var s = Files.list(outside)) {
            assertThat(s).as("nothing written through the link").isEmpty();
        }
        Path linkAsView = tmp.resolve("link-view");
        Files.createSymbolicLink(linkAsView, outside);
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> views.publish(StoreFixture.H100, linkAsView, IT, Views.Owner.ANYONE, PublishMode.COPY))
                .isInstanceOf(Views.ViewRefusedException.class);
        assertThat(store.stats().groups()).isNotEmpty(); // and no pin left behind: a refused publish pinned nothing
        View ok = views.publish(
                StoreFixture.H100,
                Files.createDirectory(tmp.resolve("empty")),
                IT,
                Views.Owner.CURRENT,
                PublishMode.LINK);
        assertThat(Views.isReady(ok.dir())).isTrue();
        views.unpublish(ok);
    }

    /** The use probe needs access times: skip on a noatime mount. */
    void assumeRelatime() throws Exception {
        String opts = mountOptionsOf(tmp);
        Assumptions.assumeFalse(opts.contains("noatime"), "the temp filesystem is mounted noatime: " + opts);
    }

    static String mountOptionsOf(Path p) throws Exception {
        Process proc = new ProcessBuilder("findmnt", "-no", "OPTIONS", "--target", p.toString()).start();
        String out = new String(proc.getInputStream().readAllBytes()).trim();
        proc.waitFor(10, TimeUnit.SECONDS);
        return out;
    }

    @Test
    void copyMode_rootRewritingAPublishedFileInPlace_changesNeitherStoreNorOtherViews() throws Exception {
        seed();
        View root = views.publish(StoreFixture.H100, tmp.resolve("root"), IT, Views.Owner.CURRENT, PublishMode.COPY);
        View other = views.publish(StoreFixture.H100, tmp.resolve("other"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        String fx = Fixture.warmStartReads().stream()
                .filter(p -> p.startsWith("inductor/fxgraph/"))
                .findFirst()
                .orElseThrow();
        byte[] before = Files.readAllBytes(other.dir().resolve(fx));
        try (var ch = Files.newByteChannel(root.dir().resolve(fx), StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap("garbage".getBytes()));
        }
        assertThat(Files.readAllBytes(other.dir().resolve(fx))).isEqualTo(before);
        views.unpublish(root);
        views.unpublish(other);
        assertThat(store.verify().clean()).isTrue();
    }

    @Test
    void linkMode_sameUserForcingAWriteIntoABlob_isCaughtAtUnpublishAndNeverServed() throws Exception {
        seed();
        View v = views.publish(StoreFixture.H100, tmp.resolve("v"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        String fx = Fixture.warmStartReads().stream()
                .filter(p -> p.startsWith("inductor/fxgraph/"))
                .findFirst()
                .orElseThrow();
        Path f = v.dir().resolve(fx);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        Thread.sleep(10);
        try (var ch = Files.newByteChannel(f, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap("garbage".getBytes()));
        }
        EntryKey victim = v.files().get(fx).entry();
        views.unpublish(v);
        assertThat(store.lookup(victim)).as("the damaged entry is gone").isNull();
        assertThat(store.verify().clean()).isTrue();
        View next = views.publish(StoreFixture.H100, tmp.resolve("next"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        assertThat(next.dir().resolve(fx)).doesNotExist();
        views.unpublish(next);
    }

    @Test
    void owner_nonRootWorkload_canAddFilesButCannotWriteLinkedBlobs() throws Exception {
        Assumptions.assumeTrue(
                "root".equals(System.getProperty("user.name")), "needs root to hand a view to another uid");
        seed();
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        View v =
                views.publish(StoreFixture.H100, tmp.resolve("pod"), IT, new Views.Owner(4321, 4321), PublishMode.LINK);
        String fx = Fixture.warmStartReads().stream()
                .filter(p -> p.startsWith("inductor/fxgraph/"))
                .findFirst()
                .orElseThrow();
        String best = Fixture.warmStartReads().stream()
                .filter(p -> p.endsWith(".best_config"))
                .findFirst()
                .orElseThrow();
        assertThat(Files.getAttribute(v.dir().resolve("inductor"), "unix:uid", LinkOption.NOFOLLOW_LINKS))
                .isEqualTo(4321);
        assertThat(Files.getAttribute(v.dir().resolve(best), "unix:uid", LinkOption.NOFOLLOW_LINKS))
                .isEqualTo(4321);
        assertThat(Files.getAttribute(v.dir().resolve(fx), "unix:uid", LinkOption.NOFOLLOW_LINKS))
                .isEqualTo(0);
        assertThat(asUser(4321, "echo x >> '" + v.dir().resolve(fx) + "'"))
                .as("in-place write into a blob")
                .isNotZero();
        assertThat(asUser(4321, "echo x >> '" + v.dir().resolve(best) + "'"))
                .as("mutable copy is the pod's")
                .isZero();
        assertThat(asUser(
                        4321,
                        "echo 'print(1)' > '" + v.dir().resolve("inductor/zz/cnew.py") + "' || (mkdir -p '"
                                + v.dir().resolve("inductor/zz") + "' && echo 'print(1)' > '"
                                + v.dir().resolve("inductor/zz/cnew.py") + "')"))
                .isZero();
        IngestReport r = ingester.ingest(v, "pod", true);
        assertThat(r.entries())
                .as("the new module and the changed autotune pick")
                .isEqualTo(2);
        views.unpublish(v);
        assertThat(store.verify().clean()).isTrue();
    }

    /**
     * vLLM's {@code backends.py} rewrites {@code vllm_compile_cache.py} with {@code open(path, "w")} when a new
     * shape compiles: a non-root pod given links must still be able to, on its own copy.
     */
    @Test
    void owner_nonRootWorkload_rewritesVllmCompileCacheIndex_withoutTouchingTheStore() throws Exception {
        Assumptions.assumeTrue(
                "root".equals(System.getProperty("user.name")), "needs root to hand a view to another uid");
        Set<Framework> vllm = Set.of(Framework.VLLM);
        String rank = "vllm/torch_compile_cache/0123456789/rank_0_0/backbone/";
        View cold = views.publish(StoreFixture.H100, tmp.resolve("cold"), vllm, Views.Owner.CURRENT, PublishMode.LINK);
        Files.createDirectories(cold.dir().resolve(rank));
        Files.writeString(cold.dir().resolve(rank + "vllm_compile_cache.py"), "{(None, 0, 'inductor'): 'a'}");
        Files.writeString(cold.dir().resolve(rank + "artifact_shape_None_subgraph_0"), "compiled");
        assertThat(ingester.ingest(cold, "test", true).entries()).isEqualTo(1);
        views.unpublish(cold);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        View pod = views.publish(
                StoreFixture.H100, tmp.resolve("pod"), vllm, new Views.Owner(4321, 4321), PublishMode.LINK);
        Path index = pod.dir().resolve(rank + "vllm_compile_cache.py");
        assertThat(asUser(4321, "echo \"{(None, 0, 'inductor'): 'a', (8, 0, 'inductor'): 'b'}\" > '" + index + "'"))
                .isZero();
        assertThat(asUser(4321, "echo x >> '" + pod.dir().resolve(rank + "artifact_shape_None_subgraph_0") + "'"))
                .as("a linked artifact")
                .isNotZero();
        assertThat(ingester.ingest(pod, "pod", true).entries())
                .as("the rank folder's next version")
                .isEqualTo(1);
        views.unpublish(pod);
        assertThat(store.verify().clean()).isTrue();
        View next = views.publish(StoreFixture.H100, tmp.resolve("next"), vllm, Views.Owner.CURRENT, PublishMode.LINK);
        assertThat(Files.readString(next.dir().resolve(rank + "vllm_compile_cache.py")))
                .contains("(8, 0, 'inductor'): 'b'");
        views.unpublish(next);
    }

    static int asUser(int uid, String sh) throws Exception {
        Process p = new ProcessBuilder(
                        "setpriv",
                        "--reuid",
                        Integer.toString(uid),
                        "--regid",
                        Integer.toString(uid),
                        "--clear-groups",
                        "sh",
                        "-c",
                        sh)
                .redirectErrorStream(true)
                .start();
        p.getInputStream().readAllBytes();
        p.waitFor(30, TimeUnit.SECONDS);
        return p.exitValue();
    }

    @Test
    void mutableFile_changedByTheWorkload_becomesANewVersionForTheNextView() throws Exception {
        seed();
        String best = Fixture.warmStartReads().stream()
                .filter(p -> p.endsWith(".best_config"))
                .findFirst()
                .orElseThrow();
        View v = views.publish(StoreFixture.H100, tmp.resolve("v"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        Files.writeString(v.dir().resolve(best), "{\"XBLOCK\": 1024}"); // rewritten in place, as Inductor does
        IngestReport r = ingester.ingest(v, "test", true);
        assertThat(r.entries()).isEqualTo(1);
        views.unpublish(v);
        View next = views.publish(StoreFixture.H100, tmp.resolve("next"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        assertThat(Files.readString(next.dir().resolve(best))).isEqualTo("{\"XBLOCK\": 1024}");
        views.unpublish(next);
    }

    /** Triton's compiler.py puts the children, then the group file (runtime/cache.py put_group): whole only then. */
    @Test
    void incompleteTritonFolder_isNotIngestedUntilItsGroupFileArrives() throws Exception {
        View v = views.publish(StoreFixture.H100, tmp.resolve("v"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        Path k = Files.createDirectories(v.dir().resolve("triton/ABCDEF"));
        Files.writeString(k.resolve("kern.json"), "{}");
        Files.writeString(k.resolve("kern.ttir"), "ir");
        Files.write(k.resolve("kern.cubin"), StoreFixture.bytes(1, 1000));
        IngestReport r1 = ingester.ingest(v, "test", true);
        assertThat(r1.entries()).isZero();
        assertThat(r1.deferred()).containsKey("incomplete kernel folder");
        Files.write(k.resolve("__grp__kern.json"), Fixture.tritonGroup("kern.json", "kern.ttir", "kern.cubin"));
        IngestReport r2 = ingester.ingest(v, "test", true);
        assertThat(r2.entries()).isEqualTo(1);
        assertThat(store.lookup(new EntryKey(StoreFixture.H100, "triton/ABCDEF/"))
                        .files())
                .hasSize(4);
        views.unpublish(v);
    }

    @Test
    void pass_overManyEmptyFolders_stopsAtTheWalkLimit_foldersCountAsFilesDo() throws Exception {
        View v = views.publish(
                StoreFixture.H100, tmp.resolve("view-folders"), IT, Views.Owner.CURRENT, PublishMode.COPY);
        Path many = Files.createDirectories(v.dir().resolve("inductor/aa"));
        for (int i = 0; i < 2_000; i++) {
            Files.createDirectory(many.resolve("d" + i)); // empty folders only
        }
        Files.createDirectories(v.dir().resolve("inductor/zz"));
        Files.writeString(v.dir().resolve("inductor/zz/cafter.py"), "x = 1\n");
        try (Ingester small = new Ingester(store, IngestLimits.defaults().withMaxPassNodes(500))) {
            IngestReport r = small.ingest(v, "test", true);
            assertThat(r.deferred()).containsKey("walk limit per pass");
        }
        assertThat(ingester.ingest(v, "test", true).entries())
                .as("within the default limit")
                .isEqualTo(1);
        views.unpublish(v);
    }

    @Test
    void periodicPass_defersFilesStillBeingWritten() throws Exception {
        Ingester settling = new Ingester(store, IngestLimits.defaults().withSettle(Duration.ofHours(1)));
        View v = views.publish(StoreFixture.H100, tmp.resolve("v"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        Files.createDirectories(v.dir().resolve("inductor/ab"));
        Files.writeString(v.dir().resolve("inductor/ab/cfresh.py"), "x = 1\n");
        IngestReport r = settling.ingest(v, "test", false);
        assertThat(r.entries()).isZero();
        assertThat(r.deferred()).containsEntry("still being written", 1);
        assertThat(settling.ingest(v, "test", true).entries()).isEqualTo(1);
        settling.close();
        views.unpublish(v);
    }

    // ------------------------------------------------------------------ a workload that writes into a linked blob
    // (with a capability or a setuid helper): the damaged bytes must never reach another view, whether
    // the agent finds them at an ingest, at the view's end, or after a restart in between. (Found by a review.)

    static final io.mithril.agent.key.GroupId OTHER = new io.mithril.agent.key.GroupId(
            "team-b", "other", StoreFixture.H100.device(), StoreFixture.H100.product());

    /** Both namespaces hold the fixture: the same content, so the same blobs. */
    void seedTwoNamespaces() throws Exception {
        seed();
        View v = views.publish(OTHER, tmp.resolve("seed-other"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        copyTree(fixture, v.dir());
        ingester.ingest(v, "test", true);
        views.unpublish(v);
    }

    /** Writes {@code bytes} into a linked fxgraph file of the view, in place; returns its path in the view. */
    static String writeThroughLink(View v, String bytes, boolean append) throws Exception {
        String fx = Fixture.warmStartReads().stream()
                .filter(p -> p.startsWith("inductor/fxgraph/"))
                .findFirst()
                .orElseThrow();
        Path f = v.dir().resolve(fx);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        Thread.sleep(10);
        try (var ch = Files.newByteChannel(
                f, StandardOpenOption.WRITE, append ? StandardOpenOption.APPEND : StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(bytes.getBytes()));
        }
        return fx;
    }

    /** Whether a fresh view of the other namespace gets a file of these contents at {@code fx}. */
    boolean otherNamespaceServed(Views vs, String fx, java.util.function.Predicate<String> damaged) throws Exception {
        View other = vs.publish(OTHER, tmp.resolve("other"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        boolean served = Files.exists(other.dir().resolve(fx))
                && damaged.test(new String(Files.readAllBytes(other.dir().resolve(fx))));
        vs.unpublish(other);
        return served;
    }

    @Test
    void linkMode_blobAppendedToBeforeRestart_isStillCaughtAfterAdopt() throws Exception {
        seedTwoNamespaces();
        View v = views.publish(StoreFixture.H100, tmp.resolve("v"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        writeThroughLink(v, "\nimport os; os.system('evil')\n", true);
        v.pin().close(); // the agent restarts: its in-memory view is lost, the next run adopts the folder
        Views after = new Views(store);
        View adopted = after.adopt(StoreFixture.H100, v.dir(), IT, PublishMode.LINK);
        ingester.ingest(adopted, "test", true);
        after.unpublish(adopted);
        assertThat(store.verify().clean())
                .as("unpublish of the adopted view should have caught and quarantined the damaged blob already")
                .isTrue();
    }

    /** Without a restart, as PodVolumes ends a view: final ingest first, then unpublish. */
    @Test
    void linkMode_blobOverwrittenInPlace_finalIngestThenUnpublish_asPodVolumesDoes() throws Exception {
        seedTwoNamespaces();
        View v = views.publish(StoreFixture.H100, tmp.resolve("v"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        String fx = writeThroughLink(v, "garbage", false);
        ingester.ingest(v, "pod:x", true);
        views.unpublish(v);
        assertThat(otherNamespaceServed(views, fx, text -> text.startsWith("garbage")))
                .isFalse();
    }

    @Test
    void linkMode_blobAppendedToBeforeRestart_unpublishAlone_keepsItFromTheOtherNamespace() throws Exception {
        seedTwoNamespaces();
        View v = views.publish(StoreFixture.H100, tmp.resolve("v"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        String fx = writeThroughLink(v, "#evil\n", true);
        v.pin().close();
        Views after = new Views(store);
        after.unpublish(after.adopt(
                StoreFixture.H100, v.dir(), IT, PublishMode.LINK)); // no ingest in between: the view's end alone
        assertThat(otherNamespaceServed(after, fx, text -> text.endsWith("#evil\n")))
                .isFalse();
    }
}
