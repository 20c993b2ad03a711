import numpy as np
import pytest

from pipelines.validation import check_non_negative_int, check_one_of, check_positive_int, check_rate


def test_check_positive_int():
    assert check_positive_int("units", np.int64(4), owner="GRUCell", example="GRUCell(units=4)") == 4
    for value in (0, -1, 2.0, True, "4"):
        with pytest.raises(ValueError) as error:
            check_positive_int("units", value, owner="GRUCell", example="GRUCell(units=32)")
        assert str(error.value) == (
            f"GRUCell received units={value!r}. `units` must be a positive integer, e.g. GRUCell(units=32)."
        )


def test_check_non_negative_int():
    assert check_non_negative_int("start_index", 0, owner="windowed_dataset", example="start_index=0") == 0
    with pytest.raises(ValueError, match=r"^windowed_dataset received start_index=-1\. `start_index` must be a "
                                         r"non-negative integer, e.g\. start_index=0\.$"):
        check_non_negative_int("start_index", -1, owner="windowed_dataset", example="start_index=0")


def test_check_rate():
    assert check_rate("dropout", 0, owner="GRU") == 0.0
    for value in (1.0, -0.1, True):
        with pytest.raises(ValueError, match=rf"^GRU received dropout={value!r}\. `dropout` is a fraction of units "
                                             r"to drop and must be a float in \[0, 1\), e.g\. dropout=0\.2\.$"):
            check_rate("dropout", value, owner="GRU")


def test_check_one_of():
    assert check_one_of("cell", "gru", ("gru", "lstm"), owner="build_weather_model") == "gru"
    with pytest.raises(ValueError, match=r"^build_weather_model received cell='rnn'\. Expected one of 'gru', "
                                         r"'lstm'\.$"):
        check_one_of("cell", "rnn", ("gru", "lstm"), owner="build_weather_model")


def test_kerasseq_validation_reexports_the_same_checks():
    # Layers and models import them from kerasseq.validation: the same
    # objects, so that messages and error types stay alike across the two
    # packages.
    from kerasseq import validation as reexported
    from pipelines import validation

    public = sorted(
        name for name, value in vars(validation).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == validation.__name__
    )
    assert {"check_positive_int", "check_non_negative_int", "check_rate", "check_one_of"} <= set(public)
    assert sorted(reexported.__all__) == public
    for name in public:
        assert getattr(reexported, name) is getattr(validation, name), name
