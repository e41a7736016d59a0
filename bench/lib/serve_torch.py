# The anchor of `npm run bench -- serve`: a FastAPI + uvicorn + PyTorch server for the same two
# models (weights exported by bench/serve.ts) and the same JSON body as TF Serving's predict API:
# POST /v1/models/{name}:predict {"instances": [...]} -> {"predictions": [...]}.
# Run by uvicorn as `serve_torch:app`; MALT_ANCHOR_WEIGHTS names the weights directory.
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

WEIGHTS = os.environ["MALT_ANCHOR_WEIGHTS"]


def load_weights(name):
    """The model's weights in TF.js order, as float32 tensors (manifest.json lists name, shape, file)."""
    with open(os.path.join(WEIGHTS, name, "manifest.json")) as manifest_file:
        manifest = json.load(manifest_file)
    return [
        torch.from_numpy(np.fromfile(os.path.join(WEIGHTS, name, entry["file"]), dtype=np.float32).reshape(entry["shape"]).copy())
        for entry in manifest
    ]


class Mlp(nn.Module):
    def __init__(self, weights):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(w.shape[0], w.shape[1]) for w in weights[0::2]])
        with torch.no_grad():
            for layer, kernel, bias in zip(self.layers, weights[0::2], weights[1::2]):
                layer.weight.copy_(kernel.t())  # TF.js kernels are [in, out]
                layer.bias.copy_(bias)

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return F.softmax(self.layers[-1](x), dim=1)


class Cnn(nn.Module):
    def __init__(self, weights):
        super().__init__()
        k1, b1, k2, b2, kd, bd = weights
        self.conv1 = nn.Conv2d(1, 16, 3)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.dense = nn.Linear(800, 10)
        with torch.no_grad():
            self.conv1.weight.copy_(k1.permute(3, 2, 0, 1))  # TF.js [h, w, in, out] -> [out, in, h, w]
            self.conv1.bias.copy_(b1)
            self.conv2.weight.copy_(k2.permute(3, 2, 0, 1))
            self.conv2.bias.copy_(b2)
            self.dense.weight.copy_(kd.t())
            self.dense.bias.copy_(bd)

    def forward(self, x):
        x = x.permute(0, 3, 1, 2)  # instances are NHWC [28, 28, 1], as the TF.js model takes them
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.permute(0, 2, 3, 1).flatten(1)  # flatten in TF.js's (h, w, c) order
        return F.softmax(self.dense(x), dim=1)


MODELS = {"mlp": Mlp(load_weights("mlp")).eval(), "cnn": Cnn(load_weights("cnn")).eval()}
app = FastAPI()


@app.post("/v1/models/{name}:predict")
async def predict(name: str, request: Request):
    model = MODELS.get(name)
    if model is None:
        raise HTTPException(status_code=404, detail=f"no model {name}")
    body = json.loads(await request.body())
    with torch.inference_mode():
        outputs = model(torch.tensor(body["instances"], dtype=torch.float32))
    return JSONResponse({"predictions": outputs.tolist()})
