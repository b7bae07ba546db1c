"""MMEngine's runner tutorial ("A beginner-friendly example"), as the
baseline that `make bench` compares hammer against.

The model, data set, metric and Runner arguments are the tutorial's,
including its `param_scheduler` (MultiStepLR by epoch, milestones [4, 8],
gamma 0.1: hammer's job has the same schedule through its `lr` plugin), with
these deviations, all to make it the same job as configs/tutorial.toml on
this machine:

- `num_workers=0` and `pin_memory=False` in both DataLoaders: the bench
  machine has 2 cores and no GPU, so worker processes only add start-up and
  inter-process cost here, and pinned memory serves no device;
- `torch.set_num_threads(N)` from the command line (hammer runs with
  `env.num_threads`);
- `work_dir` from the command line (a temporary directory);
- the final validation accuracy is printed as a last line of JSON.

Usage: python bench/mmengine_tutorial.py WORK_DIR [--threads N]
"""

import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset

from mmengine.model import BaseModel
from mmengine.evaluator import BaseMetric
from mmengine.registry import MODELS, DATASETS, METRICS


@MODELS.register_module()
class MyAwesomeModel(BaseModel):
    def __init__(self, layers=4, activation='relu') -> None:
        super().__init__()
        if activation == 'relu':
            act_type = nn.ReLU
        elif activation == 'silu':
            act_type = nn.SiLU
        elif activation == 'none':
            act_type = nn.Identity
        else:
            raise NotImplementedError
        sequence = [nn.Linear(2, 64), act_type()]
        for _ in range(layers-1):
            sequence.extend([nn.Linear(64, 64), act_type()])
        self.mlp = nn.Sequential(*sequence)
        self.classifier = nn.Linear(64, 2)

    def forward(self, data, labels, mode):
        x = self.mlp(data)
        x = self.classifier(x)
        if mode == 'tensor':
            return x
        elif mode == 'predict':
            return F.softmax(x, dim=1), labels
        elif mode == 'loss':
            return {'loss': F.cross_entropy(x, labels)}


@DATASETS.register_module()
class MyDataset(Dataset):
    def __init__(self, is_train, size):
        self.is_train = is_train
        if self.is_train:
            torch.manual_seed(0)
            self.labels = torch.randint(0, 2, (size,))
        else:
            torch.manual_seed(3407)
            self.labels = torch.randint(0, 2, (size,))
        r = 3 * (self.labels+1) + torch.randn(self.labels.shape)
        theta = torch.rand(self.labels.shape) * 2 * torch.pi
        self.data = torch.vstack([r*torch.cos(theta), r*torch.sin(theta)]).T

    def __getitem__(self, index):
        return self.data[index], self.labels[index]

    def __len__(self):
        return len(self.data)


@METRICS.register_module()
class Accuracy(BaseMetric):
    def __init__(self):
        super().__init__()

    def process(self, data_batch, data_samples):
        score, gt = data_samples
        self.results.append({
            'batch_size': len(gt),
            'correct': (score.argmax(dim=1) == gt).sum().cpu(),
        })

    def compute_metrics(self, results):
        total_correct = sum(r['correct'] for r in results)
        total_size = sum(r['batch_size'] for r in results)
        return dict(accuracy=100*total_correct/total_size)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir')
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from torch.utils.data import DataLoader, default_collate
    from torch.optim import Adam
    from mmengine.runner import Runner

    runner = Runner(
        model=MyAwesomeModel(
            layers=2,
            activation='relu'),
        work_dir=args.work_dir,
        train_dataloader=DataLoader(
            dataset=MyDataset(
                is_train=True,
                size=10000),
            shuffle=True,
            collate_fn=default_collate,
            batch_size=64,
            # Deviation from the tutorial (pin_memory=True, num_workers=2):
            # 2 cores, no GPU; worker processes only add cost here.
            pin_memory=False,
            num_workers=0),
        train_cfg=dict(
            by_epoch=True,
            max_epochs=10,
            val_begin=2,
            val_interval=1),
        optim_wrapper=dict(
            optimizer=dict(
                type=Adam,
                lr=0.001)),
        # The tutorial's schedule, as hammer's `lr` plugin in
        # configs/tutorial.toml: × 0.1 at the start of epochs 4 and 8
        # (0-based), so epochs 0-3 train at 1e-3, 4-7 at 1e-4, 8-9 at 1e-5.
        param_scheduler=dict(
            type='MultiStepLR',
            by_epoch=True,
            milestones=[4, 8],
            gamma=0.1),
        val_dataloader=DataLoader(
            dataset=MyDataset(
                is_train=False,
                size=1000),
            shuffle=False,
            collate_fn=default_collate,
            batch_size=1000,
            # Same deviation as the training DataLoader.
            pin_memory=False,
            num_workers=0),
        val_cfg=dict(),
        val_evaluator=dict(type=Accuracy),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1)),
        launcher='none',
        env_cfg=dict(
            cudnn_benchmark=False,
            backend='nccl',
            mp_cfg=dict(mp_start_method='fork')),
        log_level='INFO',
        load_from=None,
        resume=False,
    )

    started = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - started

    # `runner.train()` returns the model; the last validation's metrics are
    # kept by the message hub under `val/<name>`.
    accuracy = runner.message_hub.get_scalar('val/accuracy').current()
    print(json.dumps({'train_s': round(train_s, 4),
                      'accuracy': round(float(accuracy), 4)}))


if __name__ == '__main__':
    main()
