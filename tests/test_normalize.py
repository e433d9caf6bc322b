"""Normalization on known values: random scores 0, the reference (TD3 / human) scores 1."""

import math

import pytest

from analysis.normalize import atari_55_game_subset, atari_table, conflicts, normalize
from core.errors import UserError
from suites import get_suite


def test_gym_td3_normalized():
    assert normalize("gym-td3", "HalfCheetah-v4", 10574) == pytest.approx(1.0)
    assert normalize("gym-td3", "HalfCheetah-v4", -289.415) == pytest.approx(0.0)
    assert normalize("gym-td3", "Ant-v4", (3942 - 70.288) / 2) == pytest.approx(
        (3942 - 70.288) / 2 / (3942 + 70.288) + 70.288 / (3942 + 70.288)
    )
    assert normalize("gym-td3", "Gym-Hopper-v4", 3226) == pytest.approx(1.0)  # MR.Q's env naming


def test_dmc_over_1000():
    assert normalize("dmc", "cheetah-run", 914) == pytest.approx(0.914)


def test_atari_human_normalized_and_subset():
    assert normalize("atari-hns", "Pong", 14.6) == pytest.approx(1.0)  # Pong human 14.6
    assert normalize("atari-hns", "ALE/Pong-v5", -20.7) == pytest.approx(0.0)  # Pong random -20.7
    assert len(atari_table()) == 57
    subset = atari_55_game_subset()
    assert len(subset) == 55 and "Defender" not in subset and "Surround" not in subset


def test_videopinball_conflict_is_flagged_not_hidden():
    assert set(conflicts("atari-hns")) == {"VideoPinball"}
    # human 17667.9; random 16256.9 (DQN Zoo, default) or 0.0 (rliable's MuZero-derived table)
    assert normalize("atari-hns", "VideoPinball", 30000) == pytest.approx((30000 - 16256.9) / (17667.9 - 16256.9))
    assert normalize("atari-hns", "VideoPinball", 30000, atari_alternative=True) == pytest.approx(30000 / 17667.9)
    assert normalize("atari-hns", "Pong", 0.0, atari_alternative=True) == normalize("atari-hns", "Pong", 0.0)


def test_every_suite_task_has_constants():
    for suite_name in ("gym", "dmc-proprio", "dmc-visual", "atari"):
        for task in get_suite(suite_name).tasks:
            value = normalize(task.normalization, task.name, 0.0)  # raises UserError when constants are missing
            assert math.isfinite(value)


def test_unknown_task_is_a_user_error():
    with pytest.raises(UserError, match="valid: Ant-v4"):
        normalize("gym-td3", "Swimmer-v4", 1.0)
