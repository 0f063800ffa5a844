package io.mithril.agent.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FilesystemSyncTest {
    @TempDir
    Path tmp;

    @Test
    void usedOnlyWhereSyncfsReportsWriteBackErrors() {
        assertThat(FilesystemSync.reportsErrors("6.18.44-fc-v1045")).isTrue();
        assertThat(FilesystemSync.reportsErrors("5.8.0")).isTrue();
        assertThat(FilesystemSync.reportsErrors("5.15.0-91-generic")).isTrue();
        assertThat(FilesystemSync.reportsErrors("5.4.0-150-generic")).isFalse();
        assertThat(FilesystemSync.reportsErrors("4.18.0-553.el8_10.x86_64")).isFalse();
        assertThat(FilesystemSync.reportsErrors("")).isFalse();
        assertThat(FilesystemSync.reportsErrors("weird")).isFalse();
    }

    @Test
    void syncsARealFolder_andSaysWhatFailed() throws IOException {
        if (!FilesystemSync.available()) {
            return; // nothing to call here; the store syncs file by file
        }
        Files.writeString(tmp.resolve("a"), "x");
        FilesystemSync.sync(tmp);
        assertThatThrownBy(() -> FilesystemSync.sync(tmp.resolve("missing")))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("missing");
    }
}
