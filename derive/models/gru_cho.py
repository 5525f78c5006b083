"""GRU of Cho et al. (2014): the reset gate scales the previous state before the
recurrent product.

    r(t)  = sigmoid(b_r + U_r x(t) + W_r h(t-1))
    z(t)  = sigmoid(b_z + U_z x(t) + W_z h(t-1))
    hc(t) = tanh(b + U x(t) + W (r(t) ⊙ h(t-1)))
    h(t)  = (1 - z(t)) ⊙ hc(t) + z(t) ⊙ h(t-1)

A different function from PyTorch's GRU (derive/models/gru.py) whenever b_h != 0
or r is not all ones: r ⊙ (W h) is not W (r ⊙ h).
"""
from derive.models import gru


def spec(n=None, m=None, K=None):
    return gru.spec(n, m, K, cho=True)


#: A classic mistake, as data for numeric/faults.py (the ``variant`` pattern): the reset
#: gate's adjoint taken through PyTorch's candidate, r(t) ⊙ (W h(t-1) + b_h) with b_h = 0.
CONFUSIONS = (
    {"id": "pytorch", "equation": "hc", "of": "r", "variant": gru.spec,
     "description": "dL/dr taken through PyTorch's candidate hc(t) = tanh(b + U x(t) + r(t) ⊙ (W h(t-1))), "
                    "(dL/dhc ⊙ tanh'(.)) ⊙ (W h(t-1)), instead of Cho's (W^T dL/da_hc) ⊙ h(t-1)"},
)
