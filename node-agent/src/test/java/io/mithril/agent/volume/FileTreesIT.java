package io.mithril.agent.volume;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileTreesIT {

    @TempDir
    Path tmp;

    /**
     * Makes {@code at} a chain of {@code depth} nested folders named {@code d}, built bottom-up in
     * pieces of {@code piece} folders (a path of that depth is longer than PATH_MAX, so it cannot be
     * made in one go): each new piece is made with a short path and the chain so far moved into it.
     */
    static void chain(Path at, int depth, int piece) throws IOException {
        Path work = Files.createDirectories(at.getParent().resolve("chain-work"));
        Path built = null; // a chain of the depth made so far, sitting in work/
        int made = 0;
        while (made < depth) {
            int k = Math.min(piece, depth - made);
            Path next = work.resolve("next");
            Path deepest = next;
            for (int i = 1; i < k; i++) {
                deepest = deepest.resolve("d");
            }
            Files.createDirectories(deepest);
            if (built != null) {
                Files.move(built, deepest.resolve("d"));
            }
            built = work.resolve("built");
            Files.move(next, built);
            made += k;
        }
        Files.move(built, at);
        Files.delete(work);
    }

    @Test
    void deleteTree_tenThousandNestedFolders_removedWithoutError() throws Exception {
        Path doomed = tmp.resolve("doomed");
        chain(doomed, 10_000, 50);
        FileTrees.deleteTree(doomed);
        assertThat(doomed).doesNotExist();
        try (Stream<Path> left = Files.list(tmp)) {
            assertThat(left).as("nothing moved out of the tree").isEmpty();
        }
    }

    /** On tmpfs where there is one: ext4 spends about 20 s on a chain this deep however it is removed ({@code rm -rf} too). */
    @Test
    void deleteTree_hundredThousandNestedFolders_removedWithoutError() throws Exception {
        Path shm = Path.of("/dev/shm");
        Path base = Files.isDirectory(shm) && Files.isWritable(shm)
                ? Files.createTempDirectory(shm, "mithril-filetrees")
                : tmp;
        try {
            Path doomed = base.resolve("doomed");
            chain(doomed, 100_000, 500);
            FileTrees.deleteTree(doomed);
            assertThat(doomed).doesNotExist();
        } finally {
            if (base != tmp) {
                FileTrees.deleteTree(base);
            }
        }
    }

    @Test
    void clearFolder_deepChain_emptiesTheFolderAndKeepsIt() throws Exception {
        Path kept = Files.createDirectory(tmp.resolve("emptydir"));
        chain(kept.resolve("d"), 5_000, 50);
        Files.writeString(kept.resolve("top.py"), "x");
        FileTrees.clearFolder(kept);
        assertThat(kept).isEmptyDirectory();
    }

    @Test
    void deleteTree_linkPlantedDeepInsidePointingOutside_leavesTheOutsideUntouched() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside/sub"));
        Files.writeString(outside.resolve("keep.txt"), "mine");
        Path doomed = tmp.resolve("doomed");
        // deeper than the open-folder bound, so the link sits in a part carried up to the top
        chain(doomed, 3 * FileTrees.MAX_OPEN, 20);
        Path deep = doomed;
        for (int i = 1; i < 2 * FileTrees.MAX_OPEN + 5; i++) {
            deep = deep.resolve("d");
        }
        Files.createSymbolicLink(deep.resolve("link"), outside);
        Files.createSymbolicLink(deep.resolve("dirlink"), tmp.resolve("outside"));
        Files.writeString(deep.resolve("c.py"), "x");
        FileTrees.deleteTree(doomed);
        assertThat(doomed).doesNotExist();
        assertThat(Files.readString(outside.resolve("keep.txt"))).isEqualTo("mine");
    }

    @Test
    void deleteTree_removesLinksAsLinks_neverWhatTheyPointTo() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("keep.txt"), "mine");
        Path view = Files.createDirectories(tmp.resolve("doomed/inductor/ab"));
        Files.createSymbolicLink(view.resolve("link"), outside);
        Files.createSymbolicLink(tmp.resolve("doomed/triton"), outside);
        Files.writeString(view.resolve("c.py"), "x");
        FileTrees.deleteTree(tmp.resolve("doomed"));
        assertThat(tmp.resolve("doomed")).doesNotExist();
        assertThat(Files.readString(outside.resolve("keep.txt"))).isEqualTo("mine");
    }

    @Test
    void deleteTree_ofALinkToAFolder_removesTheLinkOnly() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("keep.txt"), "mine");
        Path link = Files.createSymbolicLink(tmp.resolve("view"), outside);
        FileTrees.deleteTree(link);
        assertThat(link).doesNotExist();
        assertThat(outside.resolve("keep.txt")).exists();
    }
}
