package io.mithril.agent.volume;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deleting trees a workload wrote: iteratively, with a bounded number of open folders, never
 * following a link.
 *
 * <p>Every step is relative to an open folder ({@link SecureDirectoryStream}: {@code openat},
 * {@code unlinkat}, {@code renameat}), and a subfolder is opened with {@code O_NOFOLLOW}, so a folder
 * that the workload swaps for a link while this runs is removed as a link and nothing outside the
 * tree is reached. The walk keeps an explicit stack of open folders instead of recursing, so a chain
 * of any depth cannot overflow the thread's stack; when the stack holds {@link #MAX_OPEN} folders, the
 * next subfolder is moved up to the top folder under a fresh name (a {@code renameat} between two open
 * folders, which follows nothing) and taken from there later. So at most {@code MAX_OPEN} descriptors
 * are open, whatever the depth.
 */
public final class FileTrees {

    private static final Logger log = LoggerFactory.getLogger(FileTrees.class);
    /** Open folders at most, the top one included. */
    static final int MAX_OPEN = 64;

    private FileTrees() {}

    /**
     * Deletes a tree (or a single file or link) without following symbolic links. Absent is fine.
     * Throws when something could not be deleted (a process still writing into it, say).
     */
    public static void deleteTree(Path dir) throws IOException {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(dir, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException gone) {
            return;
        }
        if (!a.isDirectory()) {
            Files.delete(dir); // a file or a link: removed as such
            return;
        }
        try (SecureDirectoryStream<Path> top = openSecure(dir)) {
            empty(top);
        }
        Files.delete(dir);
    }

    /** Deletes what a folder holds, never following links, and keeps the folder. Logs what it could not do. */
    public static void clearFolder(Path dir) {
        try (SecureDirectoryStream<Path> top = openSecure(dir)) {
            empty(top);
        } catch (NoSuchFileException gone) {
            // kubelet removed it first
        } catch (IOException e) {
            log.warn("could not empty {} ({}); kubelet removes it with the pod", dir, e.toString());
        }
    }

    private static SecureDirectoryStream<Path> openSecure(Path dir) throws IOException {
        DirectoryStream<Path> ds = Files.newDirectoryStream(dir);
        if (ds instanceof SecureDirectoryStream<Path> sds) {
            return sds;
        }
        ds.close();
        throw new IOException("this platform has no secure directory streams; refusing to delete in " + dir);
    }

    /** An open folder on the walk's stack: its stream, its name in its parent, the names left to remove. */
    private record Frame(SecureDirectoryStream<Path> dir, Path name, Deque<Path> left) {}

    /** Removes everything below {@code top} (which stays, and stays open: the caller closes it). */
    private static void empty(SecureDirectoryStream<Path> top) throws IOException {
        Deque<Frame> stack = new ArrayDeque<>();
        Frame root = new Frame(top, null, list(top));
        stack.push(root);
        try {
            while (!stack.isEmpty()) {
                Frame f = stack.peek();
                Path name = f.left().poll();
                if (name == null) {
                    stack.pop();
                    if (f != root) {
                        f.dir().close();
                        stack.peek().dir().deleteDirectory(f.name());
                    }
                    continue;
                }
                BasicFileAttributes a;
                try {
                    a = f.dir()
                            .getFileAttributeView(name, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                            .readAttributes();
                } catch (NoSuchFileException gone) {
                    continue;
                }
                if (!a.isDirectory()) {
                    deleteFile(f.dir(), name);
                } else if (stack.size() >= MAX_OPEN) {
                    // deep enough: carry the subfolder up to the top and finish it from there
                    Path moved = freshName();
                    try {
                        f.dir().move(name, top, moved);
                    } catch (NoSuchFileException gone) {
                        continue;
                    }
                    root.left().add(moved);
                } else {
                    SecureDirectoryStream<Path> sub = openSub(f.dir(), name);
                    if (sub != null) {
                        stack.push(new Frame(sub, name, list(sub)));
                    }
                }
            }
        } finally {
            for (Frame f : stack) {
                if (f != root) {
                    closeQuietly(f.dir());
                }
            }
        }
    }

    /**
     * Opens a subfolder without following a link; null when it is gone or was meanwhile replaced by
     * something that is not a folder (then removed as such).
     */
    private static SecureDirectoryStream<Path> openSub(SecureDirectoryStream<Path> dir, Path name) throws IOException {
        try {
            return dir.newDirectoryStream(name, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException gone) {
            return null;
        } catch (FileSystemException e) {
            BasicFileAttributes now;
            try {
                now = dir.getFileAttributeView(name, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                        .readAttributes();
            } catch (NoSuchFileException gone) {
                return null;
            }
            if (now.isDirectory()) {
                throw e;
            }
            deleteFile(dir, name); // swapped for a link (ELOOP) or a file: remove that, follow nothing
            return null;
        }
    }

    private static void deleteFile(SecureDirectoryStream<Path> dir, Path name) throws IOException {
        try {
            dir.deleteFile(name);
        } catch (NoSuchFileException gone) {
            // removed meanwhile
        }
    }

    private static Deque<Path> list(SecureDirectoryStream<Path> dir) {
        Deque<Path> names = new ArrayDeque<>();
        for (Path p : dir) {
            names.add(p.getFileName());
        }
        return names;
    }

    private static Path freshName() {
        return Path.of(".mithril-deep-" + UUID.randomUUID());
    }

    private static void closeQuietly(SecureDirectoryStream<Path> s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already failing
        }
    }
}
