"""The DroneNav Gymnasium environment: API, checker, determinism, outcomes, bad input."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs import DroneNavEnv


@pytest.fixture
def env():
    e = DroneNavEnv()
    yield e
    e.close()


def test_registered_and_made_right_after_import():
    assert "DroneNav-v0" in gym.registry
    e = gym.make("DroneNav-v0", scene="winter", task="chain")
    try:
        obs, info = e.reset(seed=0)
        assert obs.shape == e.observation_space.shape and obs.dtype == np.uint8
        assert e.unwrapped.scene.name == "winter" and e.unwrapped.task.name == "chain"
        assert e.spec.max_episode_steps == envs.MAX_EPISODE_STEPS
    finally:
        e.close()


SMALL = {"area_half_size": 18.0}  # a smaller layout of the same kind: same code paths, faster resets


@pytest.mark.parametrize("scene,task", [
    ("summer", "fly_to_target"), ("fall", "fly_to_target"), ("winter", "fly_to_target"), ("spring", "fly_to_target"),
    ("urban", "fly_to_target"), ("summer+dusk+fog+camera_noise", "fly_to_target"),
    ("summer", "range"), ("summer", "chain"), ("summer", "moving_target"),
])
def test_env_checker_passes(scene, task):
    e = gym.make("DroneNav-v0", scene={"name": scene, "layout": SMALL}, task=task, camera={"width": 64, "height": 36})
    try:
        check_env(e.unwrapped, skip_render_check=True)
    finally:
        e.close()


def test_env_checker_passes_on_the_registered_default():
    e = gym.make("DroneNav-v0", render_mode="rgb_array")
    try:
        check_env(e.unwrapped)
    finally:
        e.close()


def test_default_observation_and_timing(env):
    obs, info = env.reset(seed=1)
    assert obs.shape == (72, 128, 3)
    assert env.unwrapped.dt == pytest.approx(16 / 240)
    assert env.metadata["render_fps"] == pytest.approx(15)
    e = DroneNavEnv(camera={"width": 64, "height": 48}, policy_hz=24)
    try:
        assert e.dt == pytest.approx(10 / 240) and e.metadata["render_fps"] == pytest.approx(24)
        assert e.observation_space.shape == (48, 64, 3)
    finally:
        e.close()


def test_same_seed_same_images_and_trajectory():
    actions = np.random.default_rng(0).uniform(-1, 1, size=(8, 4)).astype(np.float32)
    runs = []
    for _ in range(2):
        e = DroneNavEnv(scene="summer+camera_noise", camera={"width": 64, "height": 36})
        obs, info = e.reset(seed=7)
        frames, positions = [obs], [info["drone"]["pos_world"]]
        for a in actions:
            obs, _, _, _, info = e.step(a)
            frames.append(obs)
            positions.append(info["drone"]["pos_world"])
        e.close()
        runs.append((np.stack(frames), np.stack(positions)))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert np.array_equal(runs[0][1], runs[1][1])


def test_layouts_differ_by_seed_and_match_across_seasons():
    layouts = {}
    for scene, seed in (("summer", 0), ("winter", 0), ("summer", 1)):
        e = DroneNavEnv(scene=scene, camera={"width": 32, "height": 18})
        _, info = e.reset(seed=seed)
        layouts[scene, seed] = (e.scene.obstacles.cylinders.copy(), info["target"]["pos_world"])
        e.close()
    assert np.array_equal(layouts["summer", 0][0][:, :3], layouts["winter", 0][0][:, :3])
    assert np.array_equal(layouts["summer", 0][1], layouts["winter", 0][1])
    assert layouts["summer", 0][0].shape != layouts["summer", 1][0].shape or \
        not np.array_equal(layouts["summer", 0][0], layouts["summer", 1][0])


def test_out_of_box_actions_are_clipped():
    finals = []
    for action in ([1.0, -1.0, 0.5, 1.0], [7.0, -3.0, 0.5, 9.0]):
        e = DroneNavEnv(camera={"width": 32, "height": 18})
        e.reset(seed=3)
        for _ in range(5):
            _, _, _, _, info = e.step(np.array(action, dtype=np.float32))
        finals.append(info["drone"]["pos_world"])
        e.close()
    assert np.array_equal(finals[0], finals[1])


@pytest.mark.parametrize("bad,match", [
    (np.array([np.nan, 0, 0, 0]), "finite"),
    (np.array([0.0, 0.0, np.inf, 0.0]), "finite"),
    (np.zeros(3), r"shape \(4,\)"),
    (np.zeros((1, 4)), r"shape \(4,\)"),
])
def test_bad_actions_raise_clear_errors(env, bad, match):
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step(bad)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="summer.*urban|Valid scenes"):
        DroneNavEnv(scene="jungle")
    with pytest.raises(ValueError, match="camera_noise.*fog|Valid modifiers"):
        DroneNavEnv(scene="summer+rain")
    with pytest.raises(ValueError, match="fly_to_target"):
        DroneNavEnv(task="fetch")
    with pytest.raises(ValueError, match="render_mode"):
        DroneNavEnv(render_mode="human")


def test_info_carries_privileged_truth(env):
    obs, info = env.reset(seed=2)
    for key in ("is_success", "collision", "out_of_bounds", "distance_to_target", "distance_to_approach",
                "bearing_to_target", "nearest_obstacle_distance", "obstacles", "drone", "target"):
        assert key in info
    assert info["obstacles"].shape == (8, 4)
    assert set(info["drone"]) >= {"pos_world", "vel_world", "vel_body", "rpy", "quat", "ang_vel_body", "rpm"}
    # fly_to_target: 4 to 12 m, target in view (bearing within the half field of view)
    assert 3.5 < info["distance_to_target"] < 12.5
    half_hfov = np.arctan(np.tan(np.radians(25)) * 16 / 9)
    assert abs(info["bearing_to_target"]) < half_hfov
    assert info["is_success"] is False


def test_piloted_episode_succeeds_and_says_so(fly_episode):
    e = DroneNavEnv(camera={"width": 32, "height": 18})
    try:
        steps, info, terminated = fly_episode(e, seed=4)
        assert terminated and info["is_success"] is True and not info["collision"]
        assert steps * e.dt < e.task.time_limit_s
    finally:
        e.close()


def test_collision_ends_episode_without_success():
    e = DroneNavEnv(camera={"width": 32, "height": 18})
    try:
        e.reset(seed=5)
        for _ in range(200):
            _, reward, terminated, truncated, info = e.step(np.array([0, 0, -1, 0], dtype=np.float32))
            if terminated or truncated:
                break
        assert terminated and info["collision"] and info["is_success"] is False
        assert reward < 0
    finally:
        e.close()


def test_hovering_in_place_times_out(env):
    e = DroneNavEnv(task={"name": "fly_to_target", "time_limit_s": 2.0}, camera={"width": 32, "height": 18})
    try:
        e.reset(seed=0)
        for k in range(100):
            _, _, terminated, truncated, info = e.step(np.zeros(4, dtype=np.float32))
            if terminated or truncated:
                break
        assert truncated and not terminated and info["is_success"] is False
        assert (k + 1) * e.dt == pytest.approx(2.0, abs=e.dt)
    finally:
        e.close()


def test_chain_reaches_targets_in_turn(fly_episode):
    e = DroneNavEnv(task={"name": "chain", "targets": 2}, camera={"width": 32, "height": 18})
    try:
        e.reset(seed=0)
        first = e.episode.targets[0].pos_world.copy()
        steps, info, terminated = fly_episode(e, seed=0)
        assert terminated and info["is_success"] is True
        assert info["target"]["index"] == 1 and info["target"]["count"] == 2
        assert not np.allclose(info["target"]["pos_world"], first)
    finally:
        e.close()


def test_moving_target_moves():
    e = DroneNavEnv(task="moving_target", camera={"width": 32, "height": 18})
    try:
        _, info = e.reset(seed=0)
        start = info["target"]["pos_world"]
        for _ in range(150):
            _, _, _, _, info = e.step(np.zeros(4, dtype=np.float32))
        moved = np.linalg.norm(info["target"]["pos_world"] - start)
        speed = e.task.cfg["path"]["speed"]
        assert 0.1 < moved <= speed * 150 * e.dt + 1e-6
    finally:
        e.close()


def test_range_task_distance_parameter():
    e = DroneNavEnv(task={"name": "range", "distance": 20.0}, camera={"width": 32, "height": 18})
    try:
        _, info = e.reset(seed=0)
        assert info["distance_to_target"] == pytest.approx(20.0, abs=0.6)
    finally:
        e.close()
    with pytest.raises(ValueError, match="does not fit"):
        e = DroneNavEnv(task={"name": "range", "distance": 80.0})
        try:
            e.reset(seed=0)
        finally:
            e.close()


def test_render_rgb_array_is_chase_view():
    e = DroneNavEnv(render_mode="rgb_array", camera={"width": 32, "height": 18})
    try:
        obs, _ = e.reset(seed=0)
        frame = e.render()
        assert frame.dtype == np.uint8 and frame.shape == (180, 320, 3)
        assert DroneNavEnv.metadata["render_modes"] == ["rgb_array"]
    finally:
        e.close()
    e = DroneNavEnv(camera={"width": 32, "height": 18})
    e.reset(seed=0)
    assert e.render() is None
    e.close()


def test_image_and_state_observation():
    e = DroneNavEnv(observation="image+state", camera={"width": 32, "height": 18})
    try:
        obs, _ = e.reset(seed=0)
        assert set(obs) == {"image", "state"} and obs["state"].dtype == np.float32
        assert e.observation_space.contains(obs)
    finally:
        e.close()


def test_async_vector_env_with_workers():
    from gymnasium.vector import AsyncVectorEnv

    fns = [lambda s=s: gym.make("DroneNav-v0", scene=s, camera={"width": 32, "height": 18})
           for s in ("summer", "winter", "urban")]
    vec = AsyncVectorEnv(fns)
    try:
        obs, info = vec.reset(seed=[0, 1, 2])
        assert obs.shape == (3, 18, 32, 3)
        for _ in range(3):
            obs, reward, terminated, truncated, info = vec.step(np.zeros((3, 4), dtype=np.float32))
        assert reward.shape == (3,) and info["drone"]["pos_world"].shape == (3, 3)
        assert len({tuple(p) for p in info["drone"]["pos_world"]}) == 3
    finally:
        vec.close()


def test_close_frees_clients():
    import pybullet as p

    e = DroneNavEnv(camera={"width": 32, "height": 18})
    e.reset(seed=0)
    clients = (e.client, e.render_client)
    e.close()
    assert not any(p.isConnected(c) for c in clients)
    e.close()  # closing twice is harmless


@pytest.mark.slow
def test_200_make_close_cycles_grow_memory_under_50mb():
    import resource

    def rss_mb() -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def cycle():
        e = gym.make("DroneNav-v0")
        e.reset(seed=0)
        e.step(e.action_space.sample())
        e.close()

    for _ in range(5):
        cycle()
    before = rss_mb()
    for _ in range(200):
        cycle()
    assert rss_mb() - before < 50


def test_wind_gusts_push_the_drone():
    finals = []
    for wind in (None, {"enabled": True, "mean_world": [2.0, 0.0, 0.0], "gust_std": 0.5}):
        e = DroneNavEnv(camera={"width": 32, "height": 18}, wind=wind)
        e.reset(seed=0)
        for _ in range(30):
            _, _, terminated, _, info = e.step(np.zeros(4, dtype=np.float32))
        finals.append(info["drone"]["pos_world"])
        e.close()
    assert np.linalg.norm(finals[1] - finals[0]) > 0.01
