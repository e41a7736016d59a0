"""A plain HTTP client of Malt's model server, written from the public specs only (TF Serving's
REST API and the Open Inference Protocol v2), with nothing but the standard library.

Usage: serving_client.py URL MODEL INSTANCES_JSON
Prints {"tfserving": [[...]], "kserve": [[...]]}: each protocol's scores for the instances.
"""
import json
import sys
import urllib.request


def call(url, body=None):
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode("utf-8"))


def main():
    base, model, instances = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    # TF Serving: POST /v1/models/{name}:predict with the row format.
    predictions = call(f"{base}/v1/models/{model}:predict", {"instances": instances})["predictions"]
    # KServe v2: the input's name comes from the model metadata; data flattened row-major.
    metadata = call(f"{base}/v2/models/{model}")
    spec = metadata["inputs"][0]
    rows, width = len(instances), len(instances[0])
    flat = [value for row in instances for value in row]
    answer = call(
        f"{base}/v2/models/{model}/infer",
        {"inputs": [{"name": spec["name"], "shape": [rows, width], "datatype": spec["datatype"], "data": flat}]},
    )
    output = answer["outputs"][0]
    columns = output["shape"][1]
    scores = [output["data"][i * columns:(i + 1) * columns] for i in range(rows)]
    print(json.dumps({"tfserving": predictions, "kserve": scores}))


if __name__ == "__main__":
    main()
