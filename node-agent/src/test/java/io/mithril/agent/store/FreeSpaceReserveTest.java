package io.mithril.agent.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class FreeSpaceReserveTest {

    @Test
    void parse_percentSizeOrNothing_andTheBytesToKeep() {
        assertThat(FreeSpaceReserve.parse("15%")).isEqualTo(new FreeSpaceReserve(0, 15));
        assertThat(FreeSpaceReserve.parse("15%").of(1000L << 30)).isEqualTo(150L << 30);
        assertThat(FreeSpaceReserve.parse("20Gi")).isEqualTo(new FreeSpaceReserve(20L << 30, 0));
        assertThat(FreeSpaceReserve.parse("20Gi").of(1L << 40)).isEqualTo(20L << 30);
        assertThat(FreeSpaceReserve.parse("0").isNone()).isTrue();
        assertThat(FreeSpaceReserve.parse("").isNone()).isTrue();
        assertThat(FreeSpaceReserve.parse("15%")).hasToString("15%");
    }

    @Test
    void parse_outOfRangeOrMalformed_isRefused() {
        assertThatThrownBy(() -> FreeSpaceReserve.parse("100%")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FreeSpaceReserve.parse("ten%")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FreeSpaceReserve.parse("-5%")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FreeSpaceReserve.parse("12 apples")).isInstanceOf(IllegalArgumentException.class);
    }
}
