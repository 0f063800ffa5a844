package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** In EmptyDir mode the agent touches only the injected emptyDir of a pod, reached through real folders. */
class KubeletEmptyDirTest {

    static final String UID = "0df28fbd-5f5f-11e8-bc74-36e6bb280816";

    @TempDir
    Path kubelet;

    Path emptyDir(String uid) {
        return kubelet.resolve(uid).resolve(PodVolumes.EMPTY_DIR);
    }

    @Test
    void kubeletEmptyDir_thePodsOwnFolder_isAccepted() throws Exception {
        Files.createDirectories(emptyDir(UID));
        assertThat(PodVolumes.kubeletEmptyDir(kubelet, UID, emptyDir(UID))).isTrue();
    }

    @Test
    void kubeletEmptyDir_aLinkOnTheWay_orAnotherFolder_orAMalformedUid_isRefused() throws Exception {
        // the pod's volumes folder a link to another pod's: its secrets would be next door
        String other = "11111111-2222-3333-4444-555555555555";
        Files.createDirectories(kubelet.resolve(other).resolve("volumes/kubernetes.io~empty-dir/mithril-cache"));
        Files.createDirectories(kubelet.resolve(UID));
        Files.createSymbolicLink(
                kubelet.resolve(UID).resolve("volumes"), kubelet.resolve(other).resolve("volumes"));
        assertThat(Files.isDirectory(emptyDir(UID)))
                .as("reachable through the link")
                .isTrue();
        assertThat(PodVolumes.kubeletEmptyDir(kubelet, UID, emptyDir(UID))).isFalse();
        assertThat(PodVolumes.kubeletEmptyDir(
                        kubelet, other, kubelet.resolve(other).resolve("volumes/kubernetes.io~secret/token")))
                .as("not the injected emptyDir")
                .isFalse();
        assertThat(PodVolumes.kubeletEmptyDir(
                        kubelet, "../" + other, kubelet.resolve("../" + other).resolve(PodVolumes.EMPTY_DIR)))
                .isFalse();
        assertThat(PodVolumes.kubeletEmptyDir(null, UID, emptyDir(UID))).isFalse();
    }
}
