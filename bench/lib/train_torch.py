# PyTorch anchor for `npm run bench -- train`: the same CNN and MLP, Adam, batch 64, on the same
# Fashion-MNIST images (raw float32/int32 files written by bench/train.ts), same thread count.
# Prints one JSON object: training samples/s per model and CNN inference latencies.
import json, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

images_path, labels_path, count, threads, warmup_steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(1)
images = torch.from_numpy(np.fromfile(images_path, dtype=np.float32).reshape(count, 784).copy())
labels = torch.from_numpy(np.fromfile(labels_path, dtype=np.int32).astype(np.int64))
BATCH = 64


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.dense = nn.Linear(800, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.dense(torch.flatten(x, 1))


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def train_rate(model, inputs):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    steps = count // BATCH

    def step(i):
        xb = inputs[i * BATCH:(i + 1) * BATCH]
        yb = labels[i * BATCH:(i + 1) * BATCH]
        optimizer.zero_grad()
        # cross_entropy = softmax + categorical cross-entropy, as the Keras models compute it.
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()

    for i in range(warmup_steps):
        step(i % steps)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    return steps * BATCH / (time.perf_counter() - start)


def latency_ms(model, batch, repeats):
    x = images[:batch].reshape(batch, 1, 28, 28)
    with torch.no_grad():
        for _ in range(10):
            model(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            F.softmax(model(x), dim=1)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2]


cnn = Cnn()
result = {
    'torch': torch.__version__,
    'threads': torch.get_num_threads(),
    'cnn': train_rate(cnn, images.reshape(count, 1, 28, 28)),
    'mlp': train_rate(mlp(), images),
}
cnn.eval()
result['cnnLatency1'] = latency_ms(cnn, 1, 200)
result['cnnLatency64'] = latency_ms(cnn, 64, 100)
print(json.dumps(result))
