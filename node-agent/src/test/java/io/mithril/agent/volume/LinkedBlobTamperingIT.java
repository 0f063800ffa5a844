package io.mithril.agent.volume;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.Fixture;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A workload that manages to write into a linked blob (a capability, a setuid helper) must never
 * get the damaged bytes served to another view, whether the agent finds it at a periodic or final
 * ingest, at the end of the view, or after a restart in between. (Found by a review.)
 */
class LinkedBlobTamperingIT {
    static final Set<Framework> IT = Set.of(Framework.INDUCTOR, Framework.TRITON);
    @TempDir Path tmp;
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

    static final io.mithril.agent.key.GroupId OTHER = new io.mithril.agent.key.GroupId("team-b", "other",
            StoreFixture.H100.device(), StoreFixture.H100.product());

    void seed() throws Exception {
        seed(StoreFixture.H100);
        seed(OTHER); // another namespace's group: same content, so the same blobs
    }

    void seed(io.mithril.agent.key.GroupId g) throws Exception {
        View v = views.publish(g, tmp.resolve("seed-" + g.namespace()), IT, Views.Owner.CURRENT, PublishMode.LINK);
        ViewsIT.copyTree(fixture, v.dir());
        ingester.ingest(v, "test", true);
        views.unpublish(v);
    }

    /**
     * A linked blob written in place (size changed) before an agent restart: adopt() now skips files
     * whose size differs from the entry's, so checkLinked() at the view's end never looks at it and
     * the damaged blob stays in the store, served to the next view.
     */
    @Test
    void linkMode_blobAppendedToBeforeRestart_isStillCaughtAfterAdopt() throws Exception {
        seed();
        Path dir = tmp.resolve("v");
        View v = views.publish(StoreFixture.H100, dir, IT, Views.Owner.CURRENT, PublishMode.LINK);
        String fx = Fixture.warmStartReads().stream().filter(p -> p.startsWith("inductor/fxgraph/")).findFirst().orElseThrow();
        EntryKey victim = v.files().get(fx).entry();
        Path f = dir.resolve(fx);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        Thread.sleep(10);
        try (var ch = Files.newByteChannel(f, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(java.nio.ByteBuffer.wrap("\nimport os; os.system('evil')\n".getBytes()));
        }
        // the agent restarts: its in-memory view is lost, the next run adopts the folder
        v.pin().close();
        Views after = new Views(store);
        View adopted = after.adopt(StoreFixture.H100, dir, IT, PublishMode.LINK);
        ingester.ingest(adopted, "test", true);
        after.unpublish(adopted);
        boolean clean = store.verify().clean(); // what a later verify would find (and quarantine)
        System.out.println("entry still present after the view ended: " + (store.lookup(victim) != null) + "; verify found damage: " + !clean);
        assertThat(clean).as("unpublish of the adopted view should have caught and quarantined the damaged blob already").isTrue();
    }

    /** The same without a restart, but as PodVolumes ends a view: final ingest first, then unpublish. */
    @Test
    void linkMode_blobOverwrittenInPlace_finalIngestThenUnpublish_asPodVolumesDoes() throws Exception {
        seed();
        Path dir = tmp.resolve("v");
        View v = views.publish(StoreFixture.H100, dir, IT, Views.Owner.CURRENT, PublishMode.LINK);
        String fx = Fixture.warmStartReads().stream().filter(p -> p.startsWith("inductor/fxgraph/")).findFirst().orElseThrow();
        Path f = dir.resolve(fx);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        Thread.sleep(10);
        try (var ch = Files.newByteChannel(f, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap("garbage".getBytes()));
        }
        ingester.ingest(v, "pod:x", true);
        views.unpublish(v);
        View other = views.publish(OTHER, tmp.resolve("other"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        boolean otherServedGarbage = Files.exists(other.dir().resolve(fx))
                && new String(Files.readAllBytes(other.dir().resolve(fx))).startsWith("garbage");
        views.unpublish(other);
        assertThat(otherServedGarbage).isFalse();
    }

    @Test
    void linkMode_blobAppendedToBeforeRestart_otherNamespaceServed() throws Exception {
        seed();
        Path dir = tmp.resolve("v");
        View v = views.publish(StoreFixture.H100, dir, IT, Views.Owner.CURRENT, PublishMode.LINK);
        String fx = Fixture.warmStartReads().stream().filter(p -> p.startsWith("inductor/fxgraph/")).findFirst().orElseThrow();
        Path f = dir.resolve(fx);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        Thread.sleep(10);
        try (var ch = Files.newByteChannel(f, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(java.nio.ByteBuffer.wrap("#evil\n".getBytes()));
        }
        v.pin().close();
        Views after = new Views(store);
        View adopted = after.adopt(StoreFixture.H100, dir, IT, PublishMode.LINK);
        after.unpublish(adopted); // no ingest in between: checkLinked alone
        View other = after.publish(OTHER, tmp.resolve("other"), IT, Views.Owner.CURRENT, PublishMode.LINK);
        boolean served = Files.exists(other.dir().resolve(fx))
                && new String(Files.readAllBytes(other.dir().resolve(fx))).endsWith("#evil\n");
        after.unpublish(other);
        assertThat(served).isFalse();
    }
}
