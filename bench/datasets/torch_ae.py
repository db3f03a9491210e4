"""The PyTorch peers: a dense autoencoder of the same architecture, optimizer, batch and
epochs as the libautoenc model it is compared with. Imported only when torch is."""

import time

import numpy as np


def import_torch(threads):
    """torch, or None and the reason it could not be imported."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 -- any failure means: no PyTorch stages
        return None, "%s: %s" % (type(exc).__name__, exc)
    torch.set_num_threads(threads)
    return torch, None


class TorchAE:
    """Encoder widths mirrored; ReLU in every hidden layer and (latent_relu) the latent
    layer; a sigmoid output trained with binary cross-entropy from the logits
    (BCEWithLogitsLoss, the mean over values as libautoenc's loss); Adam with
    libautoenc's defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8); batches drawn from a
    fresh permutation each epoch; PyTorch's own default initialisation."""

    def __init__(self, torch, widths, latent_relu=True, lr=1e-3, seed=0):
        nn = torch.nn
        self.torch = torch
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        enc, dec = [], []
        for i in range(len(widths) - 1):
            enc.append(nn.Linear(widths[i], widths[i + 1]))
            if i < len(widths) - 2 or latent_relu:
                enc.append(nn.ReLU())
        rev = widths[::-1]
        for i in range(len(rev) - 1):
            dec.append(nn.Linear(rev[i], rev[i + 1]))
            if i < len(rev) - 2:
                dec.append(nn.ReLU())
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)   # logits
        self.params = list(self.encoder.parameters()) + list(self.decoder.parameters())
        self.opt = torch.optim.Adam(self.params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
        self.loss_fn = nn.BCEWithLogitsLoss()

    def fit(self, x, epochs, batch_size):
        """Trains; returns the wall time in seconds (conversion of the data included)."""
        torch = self.torch
        start = time.perf_counter()
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        n = len(xt)
        self.encoder.train()
        self.decoder.train()
        for _ in range(epochs):
            perm = torch.from_numpy(self.rng.permutation(n))
            for b in range(0, n, batch_size):
                batch = xt[perm[b:b + batch_size]]
                self.opt.zero_grad(set_to_none=True)
                loss = self.loss_fn(self.decoder(self.encoder(batch)), batch)
                loss.backward()
                self.opt.step()
        return time.perf_counter() - start

    def _apply(self, fn, x, chunk=4096):
        torch = self.torch
        outs = []
        with torch.no_grad():
            xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            for b in range(0, len(xt), chunk):
                outs.append(fn(xt[b:b + chunk]).numpy())
        return np.concatenate(outs).astype(np.float32)

    def encode(self, x):
        return self._apply(self.encoder, x)

    def reconstruct(self, x):
        return self._apply(lambda b: self.torch.sigmoid(self.decoder(self.encoder(b))), x)
