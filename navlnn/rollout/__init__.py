"""The one closed loop: ``rollout(env, actor, seed, recorders)``, its actors and recorders, and
the worker pool that flies many episodes (see :mod:`navlnn.rollout.jobs`)."""

from navlnn.rollout.actors import Decision, ExpertActor, MixtureActor, PolicyActor, Query
from navlnn.rollout.flight import Flight, load_flight, save_flight
from navlnn.rollout.loop import Task, lockstep, rollout
from navlnn.rollout.noise import InjectedNoise, NoiseParams
from navlnn.rollout.pool import default_workers, run_pool
from navlnn.rollout.recorders import DatasetRecorder, FlightRecorder, FrameRecorder, OutcomeRecorder

__all__ = ["Decision", "DatasetRecorder", "ExpertActor", "Flight", "FlightRecorder", "FrameRecorder",
           "InjectedNoise", "MixtureActor", "NoiseParams", "OutcomeRecorder", "PolicyActor", "Query", "Task",
           "default_workers", "load_flight", "lockstep", "rollout", "run_pool", "save_flight"]
