"""Never returns."""


def loss_and_grads(params, x, y, h0=None):
    while True:
        pass
