package io.mithril.agent.volume;

import io.mithril.agent.diagnosis.Diagnoser;
import io.mithril.agent.framework.CudaDriver;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.ingest.IngestReport;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.ingest.Pass;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One view's life, the same for {@code exec} and for a pod: opened by publishing (or by adopting a
 * view an earlier run of the agent published), fed to the store by periodic {@link #pass passes}
 * while the workload runs, and {@link #end ended} once: the last pass (what it may take follows from
 * how the run ended, {@link Pass}), unpublish (the use probe read back, unpin, the folder removed or
 * emptied), the diagnosis of why the run was warm or not, and eviction back within the budgets, now
 * that the view's pins are gone.
 *
 * <p>A pass and the end are serialized; after the end the session takes no more passes.
 */
public final class ViewSession {

    private static final Logger log = LoggerFactory.getLogger(ViewSession.class);

    /**
     * What a view's life came to. {@code last}: the last pass's report, null when there was none
     * (or it failed); {@code total}: every pass's, the last included, summed; {@code committed}: names of
     * what was ingested (at most {@link IngestReport#MAX_NAMES}); {@code failures}: what went wrong
     * in the agent's own steps at the end (the workload's result stands either way).
     */
    public record Result(
            View view,
            Set<EntryKey> read,
            List<String> committed,
            Totals total,
            IngestReport last,
            Diagnoser.Diagnosis why,
            List<String> failures) {}

    /** Passes' reports summed: entries and bytes ingested, time spent, files refused. */
    /** {@code refusals}: the refused files the passes named ("why: path"), at most {@link IngestReport#MAX_REFUSALS}. */
    public record Totals(int entries, long bytes, long nanos, int refused, List<String> refusals) {
        public static final Totals NONE = new Totals(0, 0, 0, 0, List.of());

        Totals plus(IngestReport r) {
            List<String> named = refusals;
            if (!r.refusals().isEmpty() && named.size() < IngestReport.MAX_REFUSALS) {
                List<String> more = new ArrayList<>(named);
                more.addAll(r.refusals()
                        .subList(0, Math.min(r.refusals().size(), IngestReport.MAX_REFUSALS - named.size())));
                named = List.copyOf(more);
            }
            return new Totals(
                    entries + r.entries(), bytes + r.bytes(), nanos + r.nanos(), refused + r.refusedTotal(), named);
        }
    }

    private final NodeStore store;
    private final Views views;
    private final Ingester ingester;
    private final View view;
    private final String source;
    private final boolean keepFolder;
    private final List<String> committed = new ArrayList<>();
    private Totals total = Totals.NONE;
    private boolean ended;

    private ViewSession(Views views, Ingester ingester, View view, String source, boolean keepFolder) {
        this.store = views.store();
        this.views = views;
        this.ingester = ingester;
        this.view = view;
        this.source = source;
        this.keepFolder = keepFolder;
    }

    /**
     * Publishes the group's entries of {@code frameworks} into {@code dir} for a workload
     * ({@link Views#publish(GroupId, Path, Set, Views.Owner, PublishMode, CudaDriver)}).
     * {@code source}: the provenance of what is ingested from it; {@code keepFolder}: the folder is not
     * ours to remove (kubelet's emptyDir), the end empties it.
     */
    public static ViewSession publish(
            Views views,
            Ingester ingester,
            GroupId group,
            Path dir,
            Set<Framework> frameworks,
            Views.Owner owner,
            PublishMode mode,
            CudaDriver cuda,
            String source,
            boolean keepFolder)
            throws IOException {
        View v = views.publish(group, dir, frameworks, owner, mode, cuda);
        return new ViewSession(views, ingester, v, source, keepFolder);
    }

    /** Takes over a view an earlier run of the agent published in {@code dir} ({@link Views#adopt}). */
    public static ViewSession adopt(
            Views views,
            Ingester ingester,
            GroupId group,
            Path dir,
            Set<Framework> frameworks,
            PublishMode mode,
            String source,
            boolean keepFolder)
            throws IOException {
        View v = views.adopt(group, dir, frameworks, mode);
        return new ViewSession(views, ingester, v, source, keepFolder);
    }

    public View view() {
        return view;
    }

    /** What the passes so far took and refused. */
    public synchronized Totals total() {
        return total;
    }

    /** One periodic pass (only settled files); null once the view has ended. */
    public synchronized IngestReport pass() {
        if (ended) {
            return null;
        }
        IngestReport r = ingester.ingest(view, source, Pass.PERIODIC);
        note(r);
        return r;
    }

    /** Ends the view: a last pass of kind {@code last}, then unpublish, the diagnosis and eviction. */
    public Result end(Pass last) {
        return finish(last);
    }

    /** Ends the view without a last pass: its group takes no more ingest (its CompileCache was deleted). */
    public Result endWithoutIngest() {
        return finish(null);
    }

    private synchronized Result finish(Pass last) {
        if (ended) {
            throw new IllegalStateException("the view of " + view.dir() + " has ended already");
        }
        ended = true;
        List<String> failures = new ArrayList<>();
        IngestReport lastReport = null;
        if (last != null) {
            try {
                lastReport = ingester.ingest(view, source, last);
                note(lastReport);
            } catch (RuntimeException | StackOverflowError e) {
                failures.add("final ingest failed: " + describe(e));
                log.warn("final ingest failed: {}", e.toString());
            }
        }
        Set<EntryKey> read = Set.of();
        try {
            read = views.unpublish(view, keepFolder);
        } catch (IOException | RuntimeException | StackOverflowError e) {
            failures.add("unpublish failed: " + describe(e));
            log.warn("unpublish failed: {}", e.toString());
        }
        Diagnoser.Diagnosis why = new Diagnoser(store).diagnose(view.group(), view.entries(), read, committed);
        try {
            store.evictTo(Long.MAX_VALUE); // entries the view pinned may now go: bring groups back within budget
        } catch (IOException e) {
            log.warn("eviction after the view failed: {}", e.toString());
        }
        return new Result(view, read, List.copyOf(committed), total, lastReport, why, List.copyOf(failures));
    }

    private void note(IngestReport r) {
        total = total.plus(r);
        for (String n : r.committed()) {
            if (committed.size() >= IngestReport.MAX_NAMES) {
                break;
            }
            committed.add(n);
        }
    }

    private static String describe(Throwable e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
