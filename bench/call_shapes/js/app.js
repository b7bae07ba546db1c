// The call shapes of bench/call_shapes/shapes.wit, in JavaScript (QuickJS, componentize-qjs).
import { scalar, emitScalar } from 'hammer-bench:shapes/host@0.1.0';

const s = { count: 0, mean: 0.0 };

function spike(loss) {
    if (s.count > 0) emitScalar('spike/ratio', loss / s.mean);
    s.count += 1;
    s.mean += (loss - s.mean) / s.count;
}

export const shapes = {
    withInfo(info) {},
    withPhase(phase) {},
    bare() {},
    spikeInfo(info) {
        const loss = scalar('loss');
        if (loss != null) spike(loss);
    },
    spikePhase(phase) {
        const loss = scalar('loss');
        if (loss != null) spike(loss);
    },
    spikeLoss(phase, loss) {
        spike(loss);
    },
};
