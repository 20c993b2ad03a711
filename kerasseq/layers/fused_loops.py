"""Fused recurrent loops for TensorFlow, with hand-written backpropagation through time.

Autodiff through `tf.while_loop` pushes every intermediate of every step
onto stacks and replays the cell backwards op by op, with the bookkeeping
of a generic gradient. On a CPU that per-op overhead, not the arithmetic,
dominates a training step. Here the forward loop keeps only what BPTT
needs (gate outputs and states), and one reverse loop computes, per step,
the input, state and weight gradients with as few ops as the equations
allow. The GRU and LSTM keep everything per step: hoisting their input
projections or weight gradients into whole-sequence matmuls measured
slower (`bench/cells.py`), the extra `(timesteps, batch, gates * units)`
tensors costing more than the per-step ops they save. The Elman step is
the other way round: with one small matmul left per step, hoisting the
rest measured 10% faster on 500-step sequences and the same on 120.

All functions are time-major: `x` is `(timesteps, batch, features)`,
already through input dropout. `mask`, when given, is a boolean
`(timesteps, batch, 1)`; a masked step keeps the previous state, as in
`keras.layers.RNN`. The activations are those in `base.FUSED_ACTIVATIONS`,
whose derivative follows from their output (`TanhGrad`, `SigmoidGrad`), so
the forward pass stores outputs and the backward pass recomputes nothing;
layers run other activations through the generic Keras loop.
"""

import tensorflow as tf

from kerasseq.layers.base import activation_name


def _output_gradient(fn):
    """`(y, dy) -> dy * fn'(a)` from the output `y = fn(a)`, or None.

    For these activations the derivative is a function of the output, so
    the forward pass stores outputs only and nothing is recomputed.
    """
    return {
        "tanh": lambda y, dy: tf.raw_ops.TanhGrad(y=y, dy=dy),
        "sigmoid": lambda y, dy: tf.raw_ops.SigmoidGrad(y=y, dy=dy),
        "relu": lambda y, dy: tf.where(y > 0, dy, tf.zeros_like(dy)),
        "linear": lambda y, dy: dy,
    }.get(activation_name(fn))


def _tensors(*values):
    # Variables must be read outside the custom-gradient function, or TF
    # asks its gradient for them by name; the read's own gradient reaches them.
    return [tf.convert_to_tensor(getattr(v, "value", v)) for v in values]


def _stack_forward(step, x, initial_states, num_records, mask, jit_compile=False):
    """Runs `step(x_t, states) -> (new_states, records)` over time.

    Returns each state stacked over time with the initial state first,
    `(T + 1, B, units)`, so `[t]` is the state entering step t and `[t + 1]`
    the state after it; and the records (read them with `_at`).
    With `jit_compile`, inside a traced function and for a fixed number of
    steps, the loop is compiled with XLA, which fuses a step's element-wise ops: `bench/cells.py` measured
    that faster for the GRU step and slower for the smaller Elman and the
    record-heavy LSTM steps, so only `gru_sequence` asks for it.
    """

    def forward(x, initial_states, mask, stack_records):
        timesteps = tf.shape(x)[0]

        def new_arrays(n, size=timesteps):
            return tuple(tf.TensorArray(x.dtype, size=size) for _ in range(n))

        def body(t, states, state_arrays, record_arrays):
            new_states, records = step(x[t], states)
            if mask is not None:
                new_states = [tf.where(mask[t], n, s) for n, s in zip(new_states, states)]
            state_arrays = tuple(a.write(t + 1, s) for a, s in zip(state_arrays, new_states))
            record_arrays = tuple(a.write(t, r) for a, r in zip(record_arrays, records))
            return t + 1, tuple(new_states), state_arrays, record_arrays

        state_arrays = tuple(
            a.write(0, s)
            for a, s in zip(new_arrays(len(initial_states), timesteps + 1), initial_states)
        )
        _, _, state_arrays, record_arrays = tf.while_loop(
            lambda t, *_: t < timesteps,
            body,
            (tf.constant(0), tuple(initial_states), state_arrays, new_arrays(num_records)),
        )
        if stack_records:
            record_arrays = [a.stack() for a in record_arrays]
        return [a.stack() for a in state_arrays], list(record_arrays)

    # XLA compiles one program per input shape: with a time axis that varies
    # from batch to batch (length-bucketed text) that is a new compilation
    # for nearly every batch, and thousands of them exhaust the JIT's memory.
    # So only a fixed number of steps is compiled.
    if jit_compile and not tf.executing_eagerly() and x.shape[0] is not None:
        # TensorArrays cannot leave an XLA function: records come back stacked.
        return tf.function(forward, jit_compile=True, autograph=False)(
            x, list(initial_states), mask, True
        )
    # Without XLA, records stay TensorArrays: per-step reads, no stacking copies.
    return forward(x, list(initial_states), mask, False)


def _at(record, t):
    """Step `t` of a record, stacked or a TensorArray."""
    return record.read(t) if isinstance(record, tf.TensorArray) else record[t]


def _zeros_if_none(grad, like):
    return tf.zeros_like(like) if grad is None else grad


def _with_upstream(carry, upstream, t):
    # `upstream` is None when the caller used only the final states: then no
    # (timesteps, batch, units) tensor of zeros is made or read.
    return carry if upstream is None else carry + upstream[t]


def _reverse_loop(step, x, carries, accumulators):
    """Runs `step(t, carries, accumulators) -> (carries, accumulators, dx_t)`
    from the last step to the first. Returns carries, accumulators and the
    stacked input gradients."""
    timesteps = tf.shape(x)[0]

    def body(i, carries, accumulators, dx_array):
        t = timesteps - 1 - i
        carries, accumulators, dx_t = step(t, carries, accumulators)
        return i + 1, tuple(carries), tuple(accumulators), dx_array.write(t, dx_t)

    _, carries, accumulators, dx_array = tf.while_loop(
        lambda i, *_: i < timesteps,
        body,
        (tf.constant(0), tuple(carries), tuple(accumulators),
         tf.TensorArray(x.dtype, size=timesteps)),
    )
    return list(carries), list(accumulators), dx_array.stack()


def _mask_split(mask, t, grad):
    """Splits a state gradient at a masked step into (to the new value, passed through)."""
    if mask is None:
        return grad, None
    return tf.where(mask[t], grad, 0.0), tf.where(mask[t], 0.0, grad)


def _add_passthrough(grad, passthrough):
    return grad if passthrough is None else grad + passthrough


def _accumulate(accumulators, increments):
    return [a + i for a, i in zip(accumulators, increments)]


def elman_sequence(x, h0, kernel, recurrent_kernel, bias, *, activation, mask=None):
    """Elman recurrence `h_t = activation(x_t W + h_{t-1} U + b)` over all steps.

    Args:
        x: `(T, B, features)`.
        h0: `(B, units)` initial state.
        kernel, recurrent_kernel, bias: `W`, `U`, `b` (zeros for no bias).
        activation: one of `base.FUSED_ACTIVATIONS`.
        mask: optional boolean `(T, B, 1)`.

    Returns:
        `(hs, h_last)`: the state after each step, `(T, B, units)`, and the last.
    """
    activation_grad = _output_gradient(activation)

    @tf.custom_gradient
    def run(x, h0, kernel, recurrent_kernel, bias):
        timesteps, batch = tf.shape(x)[0], tf.shape(x)[1]
        units = recurrent_kernel.shape[-1]

        def over_time(a):
            # (T * B, n) <-> (T, B, n): one matmul for every step at once.
            return tf.reshape(a, (timesteps, batch, -1))

        def flat(a):
            return tf.reshape(a, (-1, a.shape[-1]))

        # The Elman step has too little arithmetic to hide per-step op
        # overhead, so everything that does not depend on h_{t-1} (the
        # input projection forward; input, kernel and bias gradients
        # backward) is one whole-sequence op, and the loops keep only the
        # recurrent matmul.
        projected = over_time(tf.matmul(flat(x), kernel) + bias)

        def step(p_t, states):
            return [activation(p_t + tf.matmul(states[0], recurrent_kernel))], []

        (states,), _ = _stack_forward(step, projected, [h0], 0, mask)

        def grad(dhs, dh_last):
            recurrent_t = tf.transpose(recurrent_kernel)

            def back(t, carries, accumulators):
                dh, passthrough = _mask_split(mask, t, _with_upstream(carries[0], dhs, t))
                # At a masked step states[t + 1] is the kept state, but dh is zero there.
                da = activation_grad(states[t + 1], dh)
                dh_prev = _add_passthrough(tf.matmul(da, recurrent_t), passthrough)
                return [dh_prev], accumulators, da

            (dh0,), _, da = _reverse_loop(back, projected, [_zeros_if_none(dh_last, h0)], [])
            da_flat = flat(da)
            dx = over_time(tf.matmul(da_flat, kernel, transpose_b=True))
            dkernel = tf.matmul(flat(x), da_flat, transpose_a=True)
            drecurrent = tf.matmul(tf.reshape(states[:-1], (-1, units)), da_flat, transpose_a=True)
            return dx, dh0, dkernel, drecurrent, tf.reduce_sum(da_flat, 0)

        return (states[1:], states[-1]), grad

    return run(*_tensors(x, h0, kernel, recurrent_kernel, bias))


def gru_sequence(
    x,
    h0,
    kernel,
    recurrent_kernel,
    input_bias,
    recurrent_bias,
    *,
    activation,
    recurrent_activation,
    reset_after,
    mask=None,
):
    """GRU recurrence over all steps, gates ordered (z, r, h) as in Keras.

    With `reset_after=True` (Keras default, cuDNN form):
        m = h_{t-1} U + b_rec, z = s(xz + mz), r = s(xr + mr),
        hh = act(xh + r * mh).
    With `reset_after=False` (Cho et al. 2014 and the course notes):
        z = s(xz + h_{t-1} Uz), r = s(xr + h_{t-1} Ur),
        hh = act(xh + (r * h_{t-1}) Uh).
    Both: x = x_t W + b_in, h_t = z * h_{t-1} + (1 - z) * hh.

    Args:
        x: `(T, B, features)`.
        h0: `(B, units)`.
        kernel: `(features, 3 * units)`; recurrent_kernel: `(units, 3 * units)`.
        input_bias, recurrent_bias: `(3 * units,)` each (zeros where the
            layer has none; `recurrent_bias` only counts with `reset_after`).
        activation, recurrent_activation: in `base.FUSED_ACTIVATIONS`.
        reset_after: which GRU form.
        mask: optional boolean `(T, B, 1)`.

    Returns:
        `(hs, h_last)`: the state after each step, `(T, B, units)`, and the last.
    """
    units = h0.shape[-1]
    activation_grad = _output_gradient(activation)
    gate_grad = _output_gradient(recurrent_activation)

    @tf.custom_gradient
    def run(x, h0, kernel, recurrent_kernel, input_bias, recurrent_bias):
        kernel_zr, kernel_h = tf.split(recurrent_kernel, [2 * units, units], axis=1)

        def step(x_t, states):
            h = states[0]
            x_zr, x_h = tf.split(tf.matmul(x_t, kernel) + input_bias, [2 * units, units], 1)
            if reset_after:
                m_zr, m_h = tf.split(
                    tf.matmul(h, recurrent_kernel) + recurrent_bias, [2 * units, units], 1
                )
                zr = recurrent_activation(x_zr + m_zr)
                z, r = tf.split(zr, 2, axis=1)
                hh = activation(x_h + r * m_h)
                records = [zr, hh, m_h]
            else:
                zr = recurrent_activation(x_zr + tf.matmul(h, kernel_zr))
                z, r = tf.split(zr, 2, axis=1)
                hh = activation(x_h + tf.matmul(r * h, kernel_h))
                records = [zr, hh]
            return [hh + z * (h - hh)], records

        (states,), records = _stack_forward(
            step, x, [h0], 3 if reset_after else 2, mask, jit_compile=True
        )

        def grad(dhs, dh_last):
            kernel_t = tf.transpose(kernel)
            recurrent_t = tf.transpose(recurrent_kernel)
            kernel_zr_t, kernel_h_t = tf.transpose(kernel_zr), tf.transpose(kernel_h)

            def back(t, carries, accumulators):
                dh, passthrough = _mask_split(mask, t, _with_upstream(carries[0], dhs, t))
                hp = states[t]
                zr, hh = (_at(r, t) for r in records[:2])
                z, r = tf.split(zr, 2, axis=1)
                da_h = activation_grad(hh, dh * (1.0 - z))
                if reset_after:
                    da_zr = gate_grad(zr, tf.concat([dh * (hp - hh), da_h * _at(records[2], t)], 1))
                    dm = tf.concat([da_zr, da_h * r], 1)
                    dh_prev = dh * z + tf.matmul(dm, recurrent_t)
                    drecurrent = tf.matmul(hp, dm, transpose_a=True)
                    drecurrent_bias = tf.reduce_sum(dm, 0)
                else:
                    # Gradient reaching r * h_{t-1} through the candidate's matmul.
                    d_reset_h = tf.matmul(da_h, kernel_h_t)
                    da_zr = gate_grad(zr, tf.concat([dh * (hp - hh), d_reset_h * hp], 1))
                    dh_prev = dh * z + tf.matmul(da_zr, kernel_zr_t) + d_reset_h * r
                    drecurrent = tf.concat(
                        [tf.matmul(hp, da_zr, transpose_a=True),
                         tf.matmul(r * hp, da_h, transpose_a=True)], 1
                    )
                    drecurrent_bias = tf.zeros_like(recurrent_bias)
                dxp = tf.concat([da_zr, da_h], 1)
                accumulators = _accumulate(
                    accumulators,
                    [tf.matmul(x[t], dxp, transpose_a=True), drecurrent,
                     tf.reduce_sum(dxp, 0), drecurrent_bias],
                )
                return [_add_passthrough(dh_prev, passthrough)], accumulators, tf.matmul(dxp, kernel_t)

            (dh0,), weight_grads, dx = _reverse_loop(
                back, x, [_zeros_if_none(dh_last, h0)],
                [tf.zeros_like(kernel), tf.zeros_like(recurrent_kernel),
                 tf.zeros_like(input_bias), tf.zeros_like(recurrent_bias)],
            )
            return (dx, dh0, *weight_grads)

        return (states[1:], states[-1]), grad

    return run(*_tensors(x, h0, kernel, recurrent_kernel, input_bias, recurrent_bias))


def lstm_sequence(
    x, h0, c0, kernel, recurrent_kernel, bias, *, activation, recurrent_activation, mask=None
):
    """LSTM recurrence over all steps, gates ordered (i, f, c, o) as in Keras.

        g = x_t W + h_{t-1} U + b, i = s(g_i), f = s(g_f), o = s(g_o),
        c_t = f * c_{t-1} + i * act(g_c), h_t = o * act(c_t).

    Args:
        x: `(T, B, features)`.
        h0, c0: `(B, units)` initial hidden and cell states.
        kernel: `(features, 4 * units)`; recurrent_kernel: `(units, 4 * units)`;
            bias: `(4 * units,)` (zeros for no bias).
        activation, recurrent_activation: in `base.FUSED_ACTIVATIONS`.
        mask: optional boolean `(T, B, 1)`.

    Returns:
        `(hs, h_last, c_last)`: hidden states `(T, B, units)` and the final
        hidden and cell states.
    """
    activation_grad = _output_gradient(activation)
    gate_grad = _output_gradient(recurrent_activation)

    @tf.custom_gradient
    def run(x, h0, c0, kernel, recurrent_kernel, bias):
        def step(x_t, states):
            h, c = states
            g = tf.matmul(x_t, kernel) + tf.matmul(h, recurrent_kernel) + bias
            g_i, g_f, g_c, g_o = tf.split(g, 4, axis=1)
            i, f, o = (recurrent_activation(v) for v in (g_i, g_f, g_o))
            candidate = activation(g_c)
            c = f * c + i * candidate
            act_c = activation(c)
            return [o * act_c, c], [i, f, candidate, o, act_c]

        (h_states, c_states), records = _stack_forward(step, x, [h0, c0], 5, mask)

        def grad(dhs, dh_last, dc_last):
            kernel_t, recurrent_t = tf.transpose(kernel), tf.transpose(recurrent_kernel)

            def back(t, carries, accumulators):
                dh, h_through = _mask_split(mask, t, _with_upstream(carries[0], dhs, t))
                dc, c_through = _mask_split(mask, t, carries[1])
                hp, cp = h_states[t], c_states[t]
                i, f, candidate, o, act_c = (_at(r, t) for r in records)
                dc = dc + activation_grad(act_c, dh * o)
                dg = tf.concat(
                    [gate_grad(i, dc * candidate), gate_grad(f, dc * cp),
                     activation_grad(candidate, dc * i), gate_grad(o, dh * act_c)], 1
                )
                dh_prev = _add_passthrough(tf.matmul(dg, recurrent_t), h_through)
                dc_prev = _add_passthrough(dc * f, c_through)
                accumulators = _accumulate(
                    accumulators,
                    [tf.matmul(x[t], dg, transpose_a=True),
                     tf.matmul(hp, dg, transpose_a=True), tf.reduce_sum(dg, 0)],
                )
                return [dh_prev, dc_prev], accumulators, tf.matmul(dg, kernel_t)

            (dh0, dc0), weight_grads, dx = _reverse_loop(
                back, x, [_zeros_if_none(dh_last, h0), _zeros_if_none(dc_last, c0)],
                [tf.zeros_like(kernel), tf.zeros_like(recurrent_kernel), tf.zeros_like(bias)],
            )
            return (dx, dh0, dc0, *weight_grads)

        return (h_states[1:], h_states[-1], c_states[-1]), grad

    return run(*_tensors(x, h0, c0, kernel, recurrent_kernel, bias))
