#include "acceltran/hw/control/tile_job_builder.hpp"

#include <stdexcept>
#include <string>

#include "acceltran/compiler/parts.hpp"

namespace acceltran {

proto::JobKind job_kind(Opcode opcode) {
  switch (opcode) {
    case Opcode::MATMUL:
      return proto::JobKind::matmul;
    case Opcode::EWISE:
      return proto::JobKind::elementwise;
    case Opcode::ACT:
      return proto::JobKind::activation;
    case Opcode::SOFTMAX:
      return proto::JobKind::softmax;
    case Opcode::LAYERNORM:
      return proto::JobKind::layer_norm;
    default:
      throw std::invalid_argument(std::string("opcode ") + to_string(opcode) +
                                  " is not a tile job");
  }
}

proto::LoopNestOrder loop_nest_order(const LoopOrder& order) {
  proto::LoopNestOrder nest;
  nest.dims = order.dims;
  return nest;
}

LoopOrder loop_order_of(const proto::LoopNestOrder& order) {
  LoopOrder lo;
  lo.dims = order.dims;
  return lo;
}

void describe_op(const Op& op, Opcode opcode, const LoopOrder& order, proto::TileJob& job) {
  job.kind = job_kind(opcode);
  job.op_id = op.id;
  job.output_tensor = op.output;
  job.dims = proto::ProblemDims{op.b, op.m, op.k, op.n};
  job.grid = proto::TileGrid{op.grid_b, op.grid_i, op.grid_j, op.grid_k};
  job.b_operand_batched = op.b_operand_batched;
  job.block = 0;
  job.block_box = proto::TileBox{0, op.grid_b, 0, op.grid_i, 0, op.grid_j, 0, op.grid_k};
  job.loop_order = loop_nest_order(order);
}

void describe_block_job(const Program& prog, const Instruction& in, uint32_t issue_width,
                        proto::TileJob& job) {
  const Op& op = prog.ops[in.op];
  const auto& tensors = prog.tensors;
  const Tensor& first = tensors[op.inputs[0]];
  // The second operand, unless the op's second input is a per-column parameter (bias).
  const Tensor* second =
      op.inputs.size() > 1 && input_mode(op, 1) != 'a' ? &tensors[op.inputs[1]] : nullptr;
  describe_op(op, in.opcode, prog.info.loop_order, job);
  const BlockBox box = block_box(op, in.block);
  job.block = in.block;
  job.block_box = proto::TileBox{box.b0, box.b1, box.i0, box.i1, box.j0, box.j1, box.k0, box.k1};
  job.activation_sparsity = first.sparsity;
  job.weight_sparsity = second ? second->sparsity : 0.0;
  job.output_sparsity = tensors[op.output].sparsity;
  // Embeddings and weights live in the weight buffer; partial sums and outputs in the
  // activation buffer.
  auto buffer_of = [](const Tensor& t) {
    return t.cls == TensorClass::activation ? proto::Buffer::activation : proto::Buffer::weight;
  };
  job.a_buffer = buffer_of(first);
  job.b_buffer = second ? buffer_of(*second) : proto::Buffer::activation;
  job.output_buffer = proto::Buffer::activation;
  job.param_words_per_tile = 0;
  for (size_t input = 0; input < op.inputs.size(); ++input)  // biases, gamma/beta: rows x ty
    if (input_mode(op, input) == 'a')
      job.param_words_per_tile +=
          static_cast<uint32_t>(tensors[op.inputs[input]].rows * prog.info.tile.y);
  job.pe = -1;
  job.issue_width = issue_width;
  job.first_tile = in.first_tile;
  job.tile_count = in.tile_count;
}

void describe_group_job(const Program& prog, const Instruction& in, proto::TileJob& job) {
  describe_op(prog.ops[in.op], in.opcode, prog.info.loop_order, job);
  job.activation_sparsity = prog.info.activation_sparsity;
  job.weight_sparsity = prog.info.weight_sparsity;
  job.pe = -1;
  job.issue_width = 0;
}

}  // namespace acceltran
