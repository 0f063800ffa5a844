package io.mithril.agent.store;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's tree is its user's alone: the internal folders ({@code blobs/}, {@code tmp/},
 * {@code quarantine/}, {@code leases/}) are 0700 and the files at the root that hold the index
 * ({@code journal.N}, {@code CURRENT}, {@code lock}) 0600, so no other local user can list, read or
 * hard-link a blob by its store path. Blobs themselves stay 0444: a view's hard link reaches the
 * inode without passing through {@code blobs/}, so workloads of any user still read what they were
 * given. The root folder and what views and the Kubernetes mode keep beside it ({@code views/},
 * {@code pods/}, {@code activity}) are left as they are: workloads and pods must reach their views.
 */
final class StorePermissions {

    private static final Logger log = LoggerFactory.getLogger(StorePermissions.class);

    static final Set<PosixFilePermission> FOLDER = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");
    /** For files the store creates at its root: private from their first byte. */
    static final FileAttribute<Set<PosixFilePermission>> PRIVATE_FILE = PosixFilePermissions.asFileAttribute(FILE);

    private static final List<String> FOLDERS = List.of("blobs", "tmp", "quarantine", "leases");
    private static final Pattern FILES = Pattern.compile("lock|CURRENT(\\.tmp)?|journal\\.\\d+");

    private StorePermissions() {}

    /**
     * At open: makes the internal folders (0700) where they are missing and sets these modes on an
     * existing store's folders and index files, whatever an older agent or a {@code chmod} left.
     * Refuses a store whose internal folder is a link or not a folder.
     */
    static void apply(Path root) throws IOException {
        for (String name : FOLDERS) {
            Path d = root.resolve(name);
            try {
                Files.createDirectory(d, PosixFilePermissions.asFileAttribute(FOLDER));
            } catch (FileAlreadyExistsException exists) {
                // an existing store (or another process creating it now)
            }
            PosixFileAttributes a = Files.readAttributes(d, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!a.isDirectory()) {
                throw new IOException(
                        "store folder " + d + " is not a folder (a link or a file); refusing to open the store");
            }
            restrict(d, a, FOLDER);
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            for (Path p : ds) {
                if (!FILES.matcher(p.getFileName().toString()).matches()) {
                    continue;
                }
                PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (a.isRegularFile()) {
                    restrict(p, a, FILE);
                }
            }
        }
    }

    /**
     * Sets the mode unless it is right. A folder or file this process may not change (another user
     * opened a store that is not theirs) is left as it is, with a warning: the store still works.
     */
    private static void restrict(Path p, PosixFileAttributes a, Set<PosixFilePermission> mode) throws IOException {
        if (a.permissions().equals(mode)) {
            return;
        }
        try {
            Files.setPosixFilePermissions(p, mode);
        } catch (FileSystemException notOurs) { // EPERM: not the owner
            log.warn("could not make {} private ({}); other local users may read it", p, notOurs.toString());
        }
    }

    /** Creates an empty private (0600) file unless one is there. */
    static void createPrivateFile(Path p) throws IOException {
        try {
            Files.createFile(p, PRIVATE_FILE);
        } catch (FileAlreadyExistsException exists) {
            // kept as it is: apply() set its mode at open
        }
    }
}
