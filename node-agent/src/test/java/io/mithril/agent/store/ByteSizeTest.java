package io.mithril.agent.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ByteSizeTest {

    @ParameterizedTest
    @CsvSource({"0,0", "1048576,1048576", "10MiB,10485760", "50Gi,53687091200", "1Ki,1024", "2KiB,2048",
        "10MB,10000000", "1G,1000000000", "1.5GiB,1610612736", "3TiB,3298534883328", "7B,7"})
    void parse_knownUnits(String text, long bytes) {
        assertThat(ByteSize.parse(text)).isEqualTo(bytes);
    }

    @ParameterizedTest
    @ValueSource(strings = {"10XB", "ten", "-5", "", "1.5", "5 parsecs", "10mb"})
    void parse_badInput_saysWhy(String text) {
        assertThatThrownBy(() -> ByteSize.parse(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageMatching("(unknown size unit|not a size|a plain byte count).*");
    }
}
