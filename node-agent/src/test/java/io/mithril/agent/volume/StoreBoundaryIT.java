package io.mithril.agent.volume;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.cas.Address;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.index.Entry;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFixture;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Between a view and the store: what the store's own work shows to views, and what views show of the store. */
class StoreBoundaryIT {

    @TempDir
    Path tmp;

    NodeStore store;
    Views views;
    List<Entry> entries = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x")); // as /var/lib is
        store = NodeStore.open(Files.createDirectory(tmp.resolve("store")), StoreConfig.defaults());
        views = new Views(store);
        for (int i = 0; i < 20; i++) {
            entries.add(StoreFixture.commit(
                    store, StoreFixture.H100, "inductor/fxgraph/ab/fkey" + i + "/", StoreFixture.bytes(i, 3000)));
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        store.close();
    }

    View publish(String name) throws Exception {
        return views.publish(
                StoreFixture.H100,
                tmp.resolve(name),
                Set.of(Framework.INDUCTOR),
                Views.Owner.CURRENT,
                PublishMode.LINK);
    }

    @Test
    void verifyAndRecheck_readEveryLinkedBlob_butNoViewCountsThatAsItsUse() throws Exception {
        String opts = ViewsIT.mountOptionsOf(tmp);
        Assumptions.assumeFalse(opts.contains("noatime"), "the temp filesystem is mounted noatime: " + opts);
        View v = publish("v"); // arms every file: atime = mtime - 1 s
        Map<Address, FileTime> armed = new HashMap<>();
        for (Entry e : entries) {
            Address a = e.files().get(0).address();
            armed.put(a, Files.getLastModifiedTime(store.blobPath(a)));
            FileTime atime =
                    (FileTime) Files.getAttribute(store.blobPath(a), "lastAccessTime", LinkOption.NOFOLLOW_LINKS);
            assertThat(atime.compareTo(armed.get(a))).as("armed below mtime").isNegative();
            armed.put(a, atime);
        }

        assertThat(store.verify().blobsChecked()).isEqualTo(entries.size());
        assertThat(store.recheck(armed.keySet())).isFalse();

        for (Map.Entry<Address, FileTime> a : armed.entrySet()) {
            assertThat(Files.getAttribute(store.blobPath(a.getKey()), "lastAccessTime", LinkOption.NOFOLLOW_LINKS))
                    .as("atime of %s after verify and recheck", a.getKey())
                    .isEqualTo(a.getValue());
        }
        assertThat(views.readEntries(v)).as("the workload read nothing").isEmpty();
        views.unpublish(v);
    }

    @Test
    void privateStoreTree_otherUserCannotReadABlobByItsStorePath_butReadsItThroughTheViewsLink() throws Exception {
        Assumptions.assumeTrue(
                "root".equals(System.getProperty("user.name")),
                "needs root to act as a second uid with setpriv (CI runs this as root)");
        View v = publish("pod");
        Path blob = store.blobPath(entries.get(0).files().get(0).address());
        Path linked = v.dir().resolve(entries.get(0).key().name() + "f0");
        assertThat(Files.isSameFile(blob, linked)).isTrue();
        assertThat(ViewsIT.asUser(4321, "cat '" + blob + "' > /dev/null"))
                .as("by its store path")
                .isNotZero();
        assertThat(ViewsIT.asUser(4321, "ls '" + store.root().resolve("blobs") + "' > /dev/null"))
                .as("listing blobs/")
                .isNotZero();
        assertThat(ViewsIT.asUser(4321, "cat '" + store.root().resolve("journal.1") + "' > /dev/null"))
                .as("the journal")
                .isNotZero();
        assertThat(ViewsIT.asUser(4321, "cat '" + linked + "' > /dev/null"))
                .as("through the view's hard link")
                .isZero();
        views.unpublish(v);
    }
}
