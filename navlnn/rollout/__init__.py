"""The one closed loop: ``rollout(env, actor, seed, recorders)``, its actors and recorders (and the
registry of recorders defined above this layer), the image perturbations and frame timing, the
seed scheme, the worker pool that flies many episodes (see :mod:`navlnn.rollout.jobs`, cached
under :mod:`navlnn.rollout.keys`) and the collector (:mod:`navlnn.rollout.collect`)."""

from navlnn.rollout.actors import Decision, ExpertActor, MixtureActor, PolicyActor, Query
from navlnn.rollout.flight import Flight, load_flight, save_flight
from navlnn.rollout.loop import Task, lockstep, rollout
from navlnn.rollout.noise import InjectedNoise, NoiseParams
from navlnn.rollout.perturbations import FrameTiming, ImagePerturbation
from navlnn.rollout.pool import default_workers, run_pool
from navlnn.rollout.recorders import (
    DatasetRecorder,
    FlightRecorder,
    FrameRecorder,
    OutcomeRecorder,
    Recorder,
    register_recorder,
)

__all__ = ["Decision", "DatasetRecorder", "ExpertActor", "Flight", "FlightRecorder", "FrameRecorder", "FrameTiming",
           "ImagePerturbation", "InjectedNoise", "MixtureActor", "NoiseParams", "OutcomeRecorder", "PolicyActor",
           "Query", "Recorder", "Task", "default_workers", "load_flight", "lockstep", "register_recorder", "rollout",
           "run_pool", "save_flight"]
