"""The real window: the CLI plays in render_mode="human" on an X server, after importing TensorFlow.

Every other test draws with SDL's dummy driver (conftest.py). These start their own X server
(Xvfb), run the CLI in a subprocess with DISPLAY pointing at it and no SDL settings of ours,
and take screenshots of the display while it plays. `train` and `test` import TensorFlow
before CartPole opens its window, which is what used to crash under Mesa's OpenGL (see
environment.prepare_display). Without Xvfb they are skipped, with the reason. The last test
checks, without a window, that the package sets SDL up only for a window and never over the user.
"""

import os
import select
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO, ctrl_c_reaches_children

POLE = (202, 152, 101)  # CartPole's pole colour; its cart is black, on white
WINDOW = (400, 600)  # CartPole's screen, rows x columns
SCREEN = "800x600x24"


@pytest.fixture(scope="module")
def x_display():
    """The name (":N") of a private Xvfb display, for this module's tests."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("window tests need an X server: Xvfb is not installed (Debian/Ubuntu: apt-get install xvfb)")
    from PIL import features

    if not features.check("xcb"):
        pytest.skip("window tests need screenshots: this Pillow was built without XCB")
    read_end, write_end = os.pipe()
    # -displayfd: Xvfb picks a free display number and writes it once it accepts clients.
    # -noreset: by default an X server resets whenever its last client leaves, and refuses connections
    # meanwhile. Until the game's window opens, each screenshot is the only client: a program that
    # connected during such a reset saw no display (exit 2 now; it used to play unseen and exit 0).
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as announced:
        ready, _, _ = select.select([announced], [], [], 30)
        number = announced.readline().strip() if ready else ""
    if not number:
        server.kill()
        pytest.skip(f"window tests need an X server: Xvfb did not start (exit code {server.wait()})")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=30)


def start_cli(display, *args, cwd):
    """``python -m cartpole_dqn ARGS`` on ``display``, with none of the SDL settings of the tests or the user."""
    env = {
        name: value for name, value in os.environ.items() if not name.startswith("SDL_") and name != "WAYLAND_DISPLAY"
    }
    env.update(DISPLAY=display, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "cartpole_dqn", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cartpole_on_screen(shot):
    """What a screenshot shows of CartPole: (white window size, pole pixels, cart pixels)."""
    white = np.all(shot == 255, axis=-1)
    if not white.any():
        return (0, 0), 0, 0
    rows, columns = np.nonzero(white)
    window = shot[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    black_rows = np.all(window == 0, axis=-1).sum(axis=1)
    # The track is a one-pixel black line across the window; the cart is the rest of the black.
    cart = black_rows.sum() - black_rows.max()
    return window.shape[:2], int(np.all(window == POLE, axis=-1).sum()), int(cart)


def shows_cartpole(seen):
    size, pole, cart = seen
    # Pole 10 x 125 and cart 50 x 30 pixels, less what the axle and the pole cover.
    return size == WINDOW and pole >= 600 and cart >= 1000


def watch_until_cartpole(process, display, timeout=300):
    """Take screenshots while ``process`` runs, until one shows CartPole; return what the last one showed.

    A loaded machine can take over a minute to import TensorFlow before the window opens.
    """
    from PIL import ImageGrab

    seen, deadline = ((0, 0), 0, 0), time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        seen = cartpole_on_screen(np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB")))
        if shows_cartpole(seen):
            break
        time.sleep(0.05)
    return seen


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ("test", "--pretrained", "--episodes", "1", "--seed", "0"),
        ("train", "--render", "human", "--episodes", "10", "--seed", "0", "--eval-episodes", "0"),
        ("test", "--pretrained", "--episodes", "1", "--seed", "0", "--gif", "play.gif", "--render", "human"),
    ],
    ids=["test", "train", "test-gif"],
)
def test_window_shows_the_game_after_tensorflow_is_loaded(x_display, tmp_path, args):
    process = start_cli(x_display, *args, cwd=tmp_path)
    seen = watch_until_cartpole(process, x_display)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, f"exit code {process.returncode}\n{err}"
    assert shows_cartpole(seen), f"window size, pole pixels, cart pixels: {seen}\n{err}"
    episodes = [line for line in out.splitlines() if line.startswith("episode: ")]
    assert len(episodes) == int(args[args.index("--episodes") + 1])
    if args[0] == "test":
        assert "test: reached 500 in 1/1 episodes" in out


@pytest.mark.slow
@pytest.mark.parametrize(
    "command, closing_line",
    [
        (("test", "--pretrained", "--episodes", "3", "--seed", "0"), "test: reached 500 in 0/0 episodes"),
        (
            ("train", "--render", "human", "--episodes", "50", "--seed", "0", "--eval-episodes", "0"),
            "training interrupted:",
        ),
    ],
    ids=["test", "train"],
)
def test_ctrl_c_in_the_window_stops_with_130(x_display, tmp_path, command, closing_line):
    with ctrl_c_reaches_children():
        process = start_cli(x_display, *command, cwd=tmp_path)
    assert shows_cartpole(watch_until_cartpole(process, x_display)), process.communicate(timeout=120)[1]
    time.sleep(1)  # mid-episode: a pretrained episode lasts 10 s
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert closing_line in out


def test_a_display_that_does_not_answer_is_refused_not_played_unseen(monkeypatch, tmp_path):
    from cartpole_dqn.environment import prepare_display
    from cartpole_dqn.errors import UserError

    monkeypatch.delenv("SDL_VIDEODRIVER")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no Wayland compositor to fall back to
    monkeypatch.setenv("DISPLAY", ":4093")  # no X server there
    with pytest.raises(UserError, match="the display :4093 does not answer"):
        prepare_display("window")


def test_only_a_window_sets_sdl_and_a_setting_of_the_user_wins(monkeypatch):
    from cartpole_dqn.environment import make_env, prepare_display

    monkeypatch.delenv("SDL_FRAMEBUFFER_ACCELERATION", raising=False)
    prepare_display("frames")
    make_env("none").close()
    assert "SDL_FRAMEBUFFER_ACCELERATION" not in os.environ
    make_env("human").close()  # SDL's dummy driver here (conftest.py): nothing opens
    assert os.environ.get("SDL_FRAMEBUFFER_ACCELERATION") == ("0" if sys.platform.startswith("linux") else None)
    monkeypatch.setenv("SDL_FRAMEBUFFER_ACCELERATION", "1")
    prepare_display("window")
    assert os.environ["SDL_FRAMEBUFFER_ACCELERATION"] == "1"
