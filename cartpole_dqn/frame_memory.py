"""The prioritized memory of the author's lesson 6, holding each frame once, as bits.

His memory keeps a stack of four float64 frames for every transition (its
next stack is the next transition's state, the same array): 10,000 stacks of
4 x 160 x 240 numbers, 12.3 GB.  Two stacks in a row share three frames, and
a thresholded frame is black and white.  So :class:`FrameMemory`
keeps each frame once, packed to one bit a pixel (4,800 bytes), and each
transition as the numbers of its frames, newest first; a minibatch unpacks
its stacks, the same 0s and 1s his arrays hold.  For 10,000 transitions that
is at most 20,008 frames, 96 MB.

Priorities, the sum tree and the draws are :class:`PrioritizedMemory`'s.
``append`` recognises the frames a stack shares with the one before (the
previous transition's next stack, or the older channels of the same stack),
so any stacks work; stacks that share no frames simply take more room, and
one that would need a frame overwritten while a stored transition still
uses it is refused (ValueError).
"""

from __future__ import annotations

import numpy as np

from cartpole_dqn.prioritized_memory import PrioritizedMemory


class FrameMemory(PrioritizedMemory):
    """A :class:`PrioritizedMemory` of stacks of black-and-white frames, shape (rows, columns, frames)."""

    def __init__(self, capacity: int, state_size, **options):
        super().__init__(capacity, state_size, **options)
        *frame_shape, depth = self.state_shape
        self.frame_shape, self.depth = tuple(frame_shape), depth
        self.pixels = int(np.prod(frame_shape))
        # A transition adds at most two frames as an agent plays (an episode's first stack is one frame
        # repeated): room for two per transition, and for the stacks in hand.
        self.frame_capacity = 2 * capacity + 2 * depth
        self.frames = np.zeros((self.frame_capacity, -(-self.pixels // 8)), np.uint8)
        self.frames_stored = 0  # frames ever stored: the next frame's number; it lives at number % frame_capacity
        self.state_frames = np.zeros((capacity, depth), np.int64)  # each transition's frame numbers, newest first
        self.next_frames = np.zeros((capacity, depth), np.int64)

    def _stored_shape(self) -> tuple[int, ...]:
        return (0,)  # the base class's arrays of whole states stay empty

    def _store_states(self, slot: int, state, next_state) -> None:
        state, next_state = self._as_stack(state), self._as_stack(next_state)
        new: list[np.ndarray] = []  # frames to store, oldest first
        before = self.next_frames[(self.data_pointer - 1) % self.capacity] if self.size else None
        if before is not None and np.array_equal(state, self._stacks(before[None])[0]):
            state_ids = before
        else:
            state_ids = self._number_frames(state, new)
        if np.array_equal(next_state[..., 1:], state[..., :-1]):
            new.append(next_state[..., 0])
            next_ids = np.concatenate([[self.frames_stored + len(new) - 1], state_ids[:-1]])
        else:
            next_ids = self._number_frames(next_state, new)
        self._check_room(slot, len(new))
        for frame in new:
            self.frames[self.frames_stored % self.frame_capacity] = np.packbits(frame.astype(bool), axis=None)
            self.frames_stored += 1
        self.state_frames[slot], self.next_frames[slot] = state_ids, next_ids

    def _states_of(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._stacks(self.state_frames[slots]), self._stacks(self.next_frames[slots])

    def _stacks(self, numbers: np.ndarray) -> np.ndarray:
        """The stacks of frames ``numbers`` (n, depth) name, as (n, *state_shape) float32 0s and 1s."""
        bits = np.unpackbits(self.frames[numbers % self.frame_capacity], axis=-1, count=self.pixels)
        stacks = np.moveaxis(bits.reshape(*numbers.shape, *self.frame_shape), 1, -1)
        return stacks.astype(np.float32)

    def _as_stack(self, states) -> np.ndarray:
        stack = np.reshape(states, self.state_shape)
        if not np.array_equal(stack, stack.astype(bool)):
            raise ValueError("a FrameMemory keeps black-and-white frames: every pixel 0 or 1")
        return stack

    def _number_frames(self, stack: np.ndarray, new: list[np.ndarray]) -> np.ndarray:
        """Numbers for a stack's frames, newest first; each frame unlike the older one beside it joins ``new``."""
        numbers = np.empty(self.depth, np.int64)
        for channel in reversed(range(self.depth)):
            older = channel + 1 < self.depth
            if older and np.array_equal(stack[..., channel], stack[..., channel + 1]):
                numbers[channel] = numbers[channel + 1]
            else:
                new.append(stack[..., channel])
                numbers[channel] = self.frames_stored + len(new) - 1
        return numbers

    def _check_room(self, slot: int, count: int) -> None:
        """Refuse ``count`` new frames if they would overwrite one a transition kept after this append uses."""
        kept = self.size - (self.size == self.capacity)  # the oldest is overwritten when the memory is full
        if not kept:
            return
        oldest = (slot - kept) % self.capacity
        first_needed = min(self.state_frames[oldest].min(), self.next_frames[oldest].min())
        if self.frames_stored + count - self.frame_capacity > first_needed:
            raise ValueError("these stacks share too few frames with the ones before for a FrameMemory")

    # -- checkpoints ------------------------------------------------------

    def state(self) -> dict[str, np.ndarray]:
        return {
            **super().state(),
            "frames": self.frames,
            "state_frames": self.state_frames,
            "next_frames": self.next_frames,
            "frames_stored": np.array(self.frames_stored),
        }

    def restore(self, state: dict[str, np.ndarray]) -> None:
        for name in ("frames", "state_frames", "next_frames"):
            current = getattr(self, name)
            if state[name].shape != current.shape:
                raise ValueError(f"a frame memory's {name} of shape {state[name].shape}, not {current.shape}")
        super().restore(state)
        for name in ("frames", "state_frames", "next_frames"):
            getattr(self, name)[...] = state[name]
        self.frames_stored = int(state["frames_stored"])
