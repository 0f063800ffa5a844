package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import org.junit.jupiter.api.Test;

class ChartLintTest {

    @Test
    void lintStrict_defaultChart_passesWithoutWarnings() {
        LintResult r = new Helm(RenderedChart.CHART).lint().strict().call();
        assertThat(r.isFailed()).as("helm lint --strict: %s", r.getMessages()).isFalse();
        assertThat(r.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    }
}
