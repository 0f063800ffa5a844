package io.mithril.agent.store;

import static io.mithril.agent.store.StoreFixture.H100;
import static io.mithril.agent.store.StoreFixture.bytes;
import static io.mithril.agent.store.StoreFixture.commit;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StorePermissionsIT {

    @TempDir
    Path root;

    static String perms(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void open_newStore_makesItsInternalTreePrivate_andBlobsStayReadOnly() throws IOException {
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            var e = commit(s, H100, "e/", bytes(1, 100));
            for (String d : new String[] {"blobs", "tmp", "quarantine", "leases"}) {
                assertThat(perms(root.resolve(d))).as(d).isEqualTo("rwx------");
            }
            for (String f : new String[] {"journal.1", "CURRENT", "lock"}) {
                assertThat(perms(root.resolve(f))).as(f).isEqualTo("rw-------");
            }
            assertThat(perms(s.blobPath(e.files().get(0).address()))).isEqualTo("r--r--r--");
            s.compactNow();
            assertThat(perms(root.resolve("journal.2")))
                    .as("a compacted journal")
                    .isEqualTo("rw-------");
            assertThat(perms(root.resolve("CURRENT"))).isEqualTo("rw-------");
        }
    }

    @Test
    void open_existingStoreWithOpenModes_isMadePrivate_butViewsAndPodStateKeepTheirs() throws IOException {
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            commit(s, H100, "e/", bytes(1, 100));
        }
        // what an older agent left, and what exec and Kubernetes mode keep beside the store
        for (String d : new String[] {"blobs", "tmp", "quarantine", "leases"}) {
            Files.setPosixFilePermissions(root.resolve(d), PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Files.setPosixFilePermissions(root.resolve("journal.1"), PosixFilePermissions.fromString("rw-r--r--"));
        Files.setPosixFilePermissions(root.resolve("CURRENT"), PosixFilePermissions.fromString("rw-r--r--"));
        Path views = Files.createDirectory(root.resolve("views"));
        Path pods = Files.createDirectory(root.resolve("pods"));
        Path activity = Files.writeString(root.resolve("activity"), "{}");
        Files.setPosixFilePermissions(views, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(pods, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(activity, PosixFilePermissions.fromString("rw-r--r--"));
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));

        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.lookup(new io.mithril.agent.index.EntryKey(H100, "e/")))
                    .isNotNull();
        }

        for (String d : new String[] {"blobs", "tmp", "quarantine", "leases"}) {
            assertThat(perms(root.resolve(d))).as(d).isEqualTo("rwx------");
        }
        assertThat(perms(root.resolve("journal.1"))).isEqualTo("rw-------");
        assertThat(perms(root.resolve("CURRENT"))).isEqualTo("rw-------");
        assertThat(perms(views)).as("views stay reachable").isEqualTo("rwxr-xr-x");
        assertThat(perms(pods)).isEqualTo("rwxr-xr-x");
        assertThat(perms(activity)).isEqualTo("rw-r--r--");
        assertThat(perms(root))
                .as("the root stays traversable: views live below it")
                .isEqualTo("rwxr-xr-x");
    }
}
